// LEB128 variable-length unsigned integers, as used inside the row encoding for lengths,
// counts and array shapes. The encoding is canonical: a value has exactly one (shortest) form.
#pragma once

#include <cstddef>
#include <cstdint>

namespace deltaflow::value {

/// The most bytes a 64-bit varint takes.
inline constexpr size_t kMaxVarintBytes = 10;

/// Writes `value` at `out` (which must have room for `kMaxVarintBytes`); returns the bytes used.
inline size_t EncodeVarint(uint64_t value, uint8_t* out) {
  size_t n = 0;
  while (value >= 0x80) {
    out[n++] = static_cast<uint8_t>(value) | 0x80;
    value >>= 7;
  }
  out[n++] = static_cast<uint8_t>(value);
  return n;
}

/// The number of bytes `EncodeVarint(value)` writes.
inline size_t VarintSize(uint64_t value) {
  size_t n = 1;
  while (value >= 0x80) {
    value >>= 7;
    ++n;
  }
  return n;
}

/// Reads a varint from trusted (already validated) memory; advances `*p` past it.
inline uint64_t DecodeVarint(const uint8_t** p) {
  const uint8_t* q = *p;
  uint64_t result = 0;
  int shift = 0;
  while (*q & 0x80) {
    result |= static_cast<uint64_t>(*q & 0x7f) << shift;
    shift += 7;
    ++q;
  }
  result |= static_cast<uint64_t>(*q) << shift;
  *p = q + 1;
  return result;
}

/// Reads a varint from untrusted memory in `[*p, end)`. Returns false on truncation, overlong
/// (non-canonical) forms and overflow; advances `*p` only on success.
inline bool DecodeVarintChecked(const uint8_t** p, const uint8_t* end, uint64_t* out) {
  const uint8_t* q = *p;
  uint64_t result = 0;
  for (int i = 0; i < static_cast<int>(kMaxVarintBytes); ++i) {
    if (q == end) return false;
    uint8_t byte = *q++;
    if (i == 9 && byte > 1) return false;  // would overflow 64 bits
    result |= static_cast<uint64_t>(byte & 0x7f) << (7 * i);
    if ((byte & 0x80) == 0) {
      if (byte == 0 && i > 0) return false;  // overlong: a trailing zero group
      *p = q;
      *out = result;
      return true;
    }
  }
  return false;
}

}  // namespace deltaflow::value
