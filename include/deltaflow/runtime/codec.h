// Codec: the byte encoding of what workers exchange.
//
// Between processes (DESIGN.md, "Scale-out"), exchanged messages and progress batches travel
// as bytes. `Codec<T>` encodes a value by appending to a byte string and decodes it from a
// byte range, failing (returning false) on malformed input rather than trusting it. Rows travel
// as their canonical encoding (checked with `value::ValidateRow` on arrival); integers as
// fixed-width little-endian; strings and sequences with a varint length. A type is
// `Encodable` when it has a `Codec`; other layers add codecs for their own types.
#pragma once

#include <concepts>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "deltaflow/base/check.h"
#include "deltaflow/time/product.h"
#include "deltaflow/value/row.h"
#include "deltaflow/value/varint.h"

namespace deltaflow::runtime {

template <typename T>
struct Codec;

/// A type with a byte encoding: `Codec<T>::Encode(value, out)` appends to `out`;
/// `Codec<T>::Decode(p, end, value)` reads from `[p, end)`, advances `p`, and returns false on
/// malformed input.
template <typename T>
concept Encodable = requires(const T& value, std::string& out, const char*& p, const char* end,
                             T& decoded) {
  Codec<T>::Encode(value, out);
  { Codec<T>::Decode(p, end, decoded) } -> std::same_as<bool>;
};

namespace codec_internal {

inline void PutVarint(uint64_t v, std::string& out) {
  uint8_t buf[value::kMaxVarintBytes];
  size_t n = value::EncodeVarint(v, buf);
  out.append(reinterpret_cast<const char*>(buf), n);
}

inline bool GetVarint(const char*& p, const char* end, uint64_t& v) {
  const uint8_t* q = reinterpret_cast<const uint8_t*>(p);
  if (!value::DecodeVarintChecked(&q, reinterpret_cast<const uint8_t*>(end), &v)) return false;
  p = reinterpret_cast<const char*>(q);
  return true;
}

}  // namespace codec_internal

template <typename I>
  requires std::is_integral_v<I>
struct Codec<I> {
  static void Encode(I value, std::string& out) {
    out.append(reinterpret_cast<const char*>(&value), sizeof(I));  // little-endian machines
  }
  static bool Decode(const char*& p, const char* end, I& value) {
    if (end - p < static_cast<std::ptrdiff_t>(sizeof(I))) return false;
    std::memcpy(&value, p, sizeof(I));
    p += sizeof(I);
    return true;
  }
};

template <>
struct Codec<std::string> {
  static void Encode(const std::string& value, std::string& out) {
    codec_internal::PutVarint(value.size(), out);
    out.append(value);
  }
  static bool Decode(const char*& p, const char* end, std::string& value) {
    uint64_t n = 0;
    if (!codec_internal::GetVarint(p, end, n) || static_cast<uint64_t>(end - p) < n) return false;
    value.assign(p, n);
    p += n;
    return true;
  }
};

/// Rows travel as their canonical bytes. A row holding Python object handles cannot leave its
/// process: encoding one is an error.
template <>
struct Codec<value::Row> {
  static void Encode(const value::Row& row, std::string& out) {
    DELTAFLOW_CHECK(!row.has_objects(), "a row holding Python objects cannot leave its process");
    codec_internal::PutVarint(row.size(), out);
    out.append(reinterpret_cast<const char*>(row.bytes().data()), row.size());
  }
  static bool Decode(const char*& p, const char* end, value::Row& row) {
    uint64_t n = 0;
    if (!codec_internal::GetVarint(p, end, n) || static_cast<uint64_t>(end - p) < n) return false;
    std::span<const uint8_t> bytes(reinterpret_cast<const uint8_t*>(p), n);
    if (!value::ValidateRow(bytes).ok()) return false;
    row = value::Row(bytes);
    p += n;
    return true;
  }
};

/// Keys travel as their two 64-bit words.
template <>
struct Codec<value::Key> {
  static void Encode(const value::Key& key, std::string& out) {
    Codec<uint64_t>::Encode(key.high(), out);
    Codec<uint64_t>::Encode(key.low(), out);
  }
  static bool Decode(const char*& p, const char* end, value::Key& key) {
    uint64_t high = 0, low = 0;
    if (!Codec<uint64_t>::Decode(p, end, high) || !Codec<uint64_t>::Decode(p, end, low)) return false;
    key = value::Key(high, low);
    return true;
  }
};

template <Encodable A, Encodable B>
struct Codec<std::pair<A, B>> {
  static void Encode(const std::pair<A, B>& value, std::string& out) {
    Codec<A>::Encode(value.first, out);
    Codec<B>::Encode(value.second, out);
  }
  static bool Decode(const char*& p, const char* end, std::pair<A, B>& value) {
    return Codec<A>::Decode(p, end, value.first) && Codec<B>::Decode(p, end, value.second);
  }
};

template <Encodable O, Encodable I>
struct Codec<time::Product<O, I>> {
  static void Encode(const time::Product<O, I>& value, std::string& out) {
    Codec<O>::Encode(value.outer, out);
    Codec<I>::Encode(value.inner, out);
  }
  static bool Decode(const char*& p, const char* end, time::Product<O, I>& value) {
    return Codec<O>::Decode(p, end, value.outer) && Codec<I>::Decode(p, end, value.inner);
  }
};

template <Encodable E>
struct Codec<std::vector<E>> {
  static void Encode(const std::vector<E>& values, std::string& out) {
    codec_internal::PutVarint(values.size(), out);
    for (const E& v : values) Codec<E>::Encode(v, out);
  }
  static bool Decode(const char*& p, const char* end, std::vector<E>& values) {
    uint64_t n = 0;
    if (!codec_internal::GetVarint(p, end, n) || n > static_cast<uint64_t>(end - p)) return false;
    values.clear();
    values.reserve(n);
    for (uint64_t i = 0; i < n; ++i) {
      values.emplace_back();
      if (!Codec<E>::Decode(p, end, values.back())) return false;
    }
    return true;
  }
};

/// Encodes one value into a fresh byte string.
template <Encodable T>
std::string EncodeToBytes(const T& value) {
  std::string out;
  Codec<T>::Encode(value, out);
  return out;
}

/// Decodes a value that must span exactly `bytes`.
template <Encodable T>
bool DecodeFromBytes(std::string_view bytes, T& value) {
  const char* p = bytes.data();
  const char* end = p + bytes.size();
  return Codec<T>::Decode(p, end, value) && p == end;
}

}  // namespace deltaflow::runtime
