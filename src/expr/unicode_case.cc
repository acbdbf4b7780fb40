#include <algorithm>
#include <cstdint>
#include <iterator>
#include <vector>

#include "unicode_case_internal.h"

namespace deltaflow::expr::unicode_case {

namespace {

struct CaseMapping {
  uint32_t code_point;
  const char* utf8;  // what it maps to
};

struct CodePointRange {
  uint32_t first;
  uint32_t last;
};

#include "unicode_case_tables.inc"

constexpr uint32_t kCapitalSigma = 0x3A3;

template <size_t N>
const char* Find(const CaseMapping (&table)[N], uint32_t cp) {
  auto it = std::lower_bound(std::begin(table), std::end(table), cp,
                             [](const CaseMapping& m, uint32_t c) { return m.code_point < c; });
  return it != std::end(table) && it->code_point == cp ? it->utf8 : nullptr;
}

template <size_t N>
bool In(const CodePointRange (&ranges)[N], uint32_t cp) {
  auto it = std::upper_bound(std::begin(ranges), std::end(ranges), cp,
                             [](uint32_t c, const CodePointRange& r) { return c < r.first; });
  return it != std::begin(ranges) && cp <= std::prev(it)->last;
}

bool IsCased(uint32_t cp) { return In(kCasedRanges, cp); }
bool IsCaseIgnorable(uint32_t cp) { return In(kCaseIgnorableRanges, cp); }

// Decodes the code point at `at` (advancing it); a byte that does not start a valid sequence
// stands for itself.
uint32_t Decode(std::string_view s, size_t& at) {
  auto byte = [&](size_t i) { return static_cast<uint8_t>(s[i]); };
  uint8_t b = byte(at);
  size_t length = b < 0x80 ? 1 : (b >> 5) == 0x6 ? 2 : (b >> 4) == 0xE ? 3 : (b >> 3) == 0x1E ? 4 : 0;
  if (length == 0 || at + length > s.size()) {
    ++at;
    return b;
  }
  uint32_t cp = length == 1 ? b : length == 2 ? (b & 0x1F) : length == 3 ? (b & 0x0F) : (b & 0x07);
  for (size_t i = 1; i < length; ++i) cp = (cp << 6) | (byte(at + i) & 0x3F);
  at += length;
  return cp;
}

void Encode(uint32_t cp, std::string& out) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

std::vector<uint32_t> CodePoints(std::string_view s) {
  std::vector<uint32_t> out;
  out.reserve(s.size());
  for (size_t at = 0; at < s.size();) out.push_back(Decode(s, at));
  return out;
}

template <size_t N>
void AppendMapped(const CaseMapping (&table)[N], uint32_t cp, std::string& out) {
  if (const char* mapped = Find(table, cp)) {
    out += mapped;
  } else {
    Encode(cp, out);
  }
}

// Python's lower() of the code point at `i`: capital sigma becomes final sigma at the end of
// a word (preceded by a cased letter, not followed by one, case-ignorable ones skipped).
void AppendLower(const std::vector<uint32_t>& cps, size_t i, std::string& out) {
  if (cps[i] != kCapitalSigma) {
    AppendMapped(kLowerMappings, cps[i], out);
    return;
  }
  size_t j = i;
  while (j > 0 && IsCaseIgnorable(cps[j - 1])) --j;
  bool final_sigma = j > 0 && IsCased(cps[j - 1]);
  if (final_sigma) {
    size_t k = i + 1;
    while (k < cps.size() && IsCaseIgnorable(cps[k])) ++k;
    final_sigma = k == cps.size() || !IsCased(cps[k]);
  }
  Encode(final_sigma ? 0x3C2 : 0x3C3, out);
}

bool IsAscii(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return static_cast<uint8_t>(c) < 0x80; });
}

char AsciiLower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; }
char AsciiUpper(char c) { return c >= 'a' && c <= 'z' ? static_cast<char>(c - 32) : c; }
bool AsciiCased(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }

}  // namespace

std::string Lower(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  if (IsAscii(text)) {
    for (char c : text) out += AsciiLower(c);
    return out;
  }
  std::vector<uint32_t> cps = CodePoints(text);
  for (size_t i = 0; i < cps.size(); ++i) AppendLower(cps, i, out);
  return out;
}

std::string Upper(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  if (IsAscii(text)) {
    for (char c : text) out += AsciiUpper(c);
    return out;
  }
  for (size_t at = 0; at < text.size();) AppendMapped(kUpperMappings, Decode(text, at), out);
  return out;
}

std::string Title(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  bool previous_cased = false;
  if (IsAscii(text)) {
    for (char c : text) {
      out += previous_cased ? AsciiLower(c) : AsciiUpper(c);
      previous_cased = AsciiCased(c);
    }
    return out;
  }
  std::vector<uint32_t> cps = CodePoints(text);
  for (size_t i = 0; i < cps.size(); ++i) {
    if (previous_cased) {
      AppendLower(cps, i, out);
    } else {
      AppendMapped(kTitleMappings, cps[i], out);
    }
    previous_cased = IsCased(cps[i]);
  }
  return out;
}

std::string Swapcase(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  if (IsAscii(text)) {
    for (char c : text) out += c >= 'a' && c <= 'z' ? AsciiUpper(c) : AsciiLower(c);
    return out;
  }
  std::vector<uint32_t> cps = CodePoints(text);
  for (size_t i = 0; i < cps.size(); ++i) {
    if (In(kUppercaseRanges, cps[i])) {
      AppendLower(cps, i, out);
    } else if (In(kLowercaseRanges, cps[i])) {
      AppendMapped(kUpperMappings, cps[i], out);
    } else {
      Encode(cps[i], out);
    }
  }
  return out;
}

}  // namespace deltaflow::expr::unicode_case
