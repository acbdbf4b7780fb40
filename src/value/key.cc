#include "deltaflow/value/key.h"

#include "fmt/format.h"

#define XXH_INLINE_ALL
#include "xxhash.h"

namespace deltaflow::value {

namespace {

constexpr char kDigits[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
constexpr int kKeyDigits = 26;  // ceil(128 / 5)

int DigitValue(char c) {
  if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  for (int i = 0; i < 32; ++i) {
    if (kDigits[i] == c) return i;
  }
  return -1;
}

}  // namespace

std::string Key::ToString() const {
  unsigned __int128 v = (static_cast<unsigned __int128>(high_) << 64) | low_;
  std::string out(kKeyDigits + 1, '0');
  out[0] = '^';
  for (int i = kKeyDigits; i >= 1; --i) {
    out[i] = kDigits[static_cast<int>(v & 31)];
    v >>= 5;
  }
  return out;
}

absl::StatusOr<Key> Key::Parse(std::string_view text) {
  if (text.size() != kKeyDigits + 1 || text[0] != '^') {
    return absl::InvalidArgumentError(
        fmt::format("not a pointer: \"{}\" (expected ^ and 26 base-32 digits)", text));
  }
  unsigned __int128 v = 0;
  for (int i = 1; i <= kKeyDigits; ++i) {
    int d = DigitValue(text[i]);
    if (d < 0 || (i == 1 && d > 7)) {
      return absl::InvalidArgumentError(
          fmt::format("not a pointer: \"{}\" (bad digit at position {})", text, i));
    }
    v = (v << 5) | static_cast<unsigned>(d);
  }
  return Key(static_cast<uint64_t>(v >> 64), static_cast<uint64_t>(v));
}

Key StableHash128(const void* data, size_t size) {
  XXH128_hash_t h = XXH3_128bits(data, size);
  return Key(h.high64, h.low64);
}

}  // namespace deltaflow::value
