// Text forms of values shared by every layer.
#include <cmath>
#include <string>
#include <string_view>

#include "deltaflow/value/row.h"
#include "fmt/format.h"

namespace deltaflow::value {

// Shortest round trip, always with a fraction or an exponent, as Python writes floats.
std::string FloatRepr(double d) {
  if (std::isnan(d)) return "nan";
  if (std::isinf(d)) return d > 0 ? "inf" : "-inf";
  double magnitude = std::fabs(d);
  std::string s;
  if (magnitude != 0 && (magnitude >= 1e16 || magnitude < 1e-4)) {
    s = fmt::format("{:e}", d);
    // Python writes the shortest mantissa: re-render with the shortest form.
    std::string shortest = fmt::format("{}", d);
    if (shortest.find('e') != std::string::npos) s = shortest;
    auto e = s.find('e');
    if (e != std::string::npos) {
      // Python: at least two exponent digits, explicit sign.
      std::string_view mantissa = std::string_view(s).substr(0, e);
      std::string_view exponent = std::string_view(s).substr(e + 1);
      char sign = '+';
      if (!exponent.empty() && (exponent[0] == '-' || exponent[0] == '+')) {
        sign = exponent[0];
        exponent.remove_prefix(1);
      }
      while (exponent.size() > 1 && exponent[0] == '0') exponent.remove_prefix(1);
      s = fmt::format("{}e{}{}{}", mantissa, sign, exponent.size() < 2 ? "0" : "", exponent);
    }
    return s;
  }
  s = fmt::format("{}", d);
  if (s.find_first_of(".e") == std::string::npos) s += ".0";
  if (auto e = s.find('e'); e != std::string::npos) {
    // fmt chose an exponent inside Python's positional range: write it positionally.
    s = fmt::format("{:f}", d);
    while (!s.empty() && s.back() == '0') s.pop_back();
    if (!s.empty() && s.back() == '.') s += '0';
  }
  return s;
}

}  // namespace deltaflow::value
