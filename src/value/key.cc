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

// The printed form encodes the key's 16 bytes in little-endian order (least significant byte
// first) as a bit stream, most significant bit of each byte first, padded with two zero bits
// to 130 bits: 26 digits of 5 bits. Pathway prints its ids the same way, so ids derived from
// the same values print identically in both.
namespace {

unsigned __int128 ByteSwap(unsigned __int128 v) {
  uint64_t high = __builtin_bswap64(static_cast<uint64_t>(v));
  uint64_t low = __builtin_bswap64(static_cast<uint64_t>(v >> 64));
  return (static_cast<unsigned __int128>(high) << 64) | low;
}

}  // namespace

std::string Key::ToString() const {
  unsigned __int128 v = (static_cast<unsigned __int128>(high_) << 64) | low_;
  unsigned __int128 stream = ByteSwap(v);  // bit 127 is the first bit of the stream
  std::string out(kKeyDigits + 1, '0');
  out[0] = '^';
  for (int i = 0; i < kKeyDigits; ++i) {
    int digit = 0;
    for (int b = 0; b < 5; ++b) {
      int position = 5 * i + b;  // 0 = first bit of the stream
      int bit = position < 128 ? static_cast<int>((stream >> (127 - position)) & 1) : 0;
      digit = (digit << 1) | bit;
    }
    out[static_cast<size_t>(i) + 1] = kDigits[digit];
  }
  return out;
}

absl::StatusOr<Key> Key::Parse(std::string_view text) {
  if (text.size() != kKeyDigits + 1 || text[0] != '^') {
    return absl::InvalidArgumentError(
        fmt::format("not a pointer: \"{}\" (expected ^ and 26 base-32 digits)", text));
  }
  unsigned __int128 stream = 0;
  for (int i = 1; i <= kKeyDigits; ++i) {
    int d = DigitValue(text[static_cast<size_t>(i)]);
    if (d < 0 || (i == kKeyDigits && (d & 3) != 0)) {
      return absl::InvalidArgumentError(
          fmt::format("not a pointer: \"{}\" (bad digit at position {})", text, i));
    }
    for (int b = 4; b >= 0; --b) {
      int position = 5 * (i - 1) + (4 - b);
      if (position < 128) stream |= static_cast<unsigned __int128>((d >> b) & 1) << (127 - position);
    }
  }
  unsigned __int128 v = ByteSwap(stream);
  return Key(static_cast<uint64_t>(v >> 64), static_cast<uint64_t>(v));
}

Key StableHash128(const void* data, size_t size) {
  XXH128_hash_t h = XXH3_128bits(data, size);
  return Key(h.high64, h.low64);
}

}  // namespace deltaflow::value
