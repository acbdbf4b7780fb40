// Unicode case mapping for the `.str.upper/lower/title/swapcase` expressions, exactly as
// Python's `str` methods map case (full mappings such as "ß".upper() == "SS", the final-sigma
// rule of lower()), from tables generated out of Python's own (scripts/gen_unicode_case.py).
#pragma once

#include <string>
#include <string_view>

namespace deltaflow::expr::unicode_case {

std::string Lower(std::string_view text);
std::string Upper(std::string_view text);
std::string Title(std::string_view text);
std::string Swapcase(std::string_view text);

}  // namespace deltaflow::expr::unicode_case
