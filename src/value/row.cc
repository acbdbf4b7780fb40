#include "deltaflow/value/row.h"

#include <cmath>
#include <limits>
#include <string>

#include "absl/time/time.h"
#include "fmt/format.h"
#include "simdjson.h"

#define XXH_INLINE_ALL
#include "xxhash.h"

namespace deltaflow::value {

namespace {

constexpr uint64_t kCanonicalNan = 0x7ff8000000000000ULL;

uint64_t CanonicalFloatBits(double v) {
  if (std::isnan(v)) return kCanonicalNan;
  if (v == 0.0) v = 0.0;  // -0.0 becomes +0.0
  uint64_t bits;
  std::memcpy(&bits, &v, sizeof(bits));
  return bits;
}

int CompareFloats(double a, double b) {
  bool a_nan = std::isnan(a);
  bool b_nan = std::isnan(b);
  if (a_nan || b_nan) return static_cast<int>(a_nan) - static_cast<int>(b_nan);
  return (a > b) - (a < b);
}

template <typename T>
int CompareScalars(T a, T b) {
  return (a > b) - (a < b);
}

int CompareByteStrings(std::string_view a, std::string_view b) {
  int c = a.compare(b);
  return (c > 0) - (c < 0);
}

template <typename T>
int CompareArrays(NdArrayView<T> a, NdArrayView<T> b) {
  if (int c = CompareScalars(a.ndim(), b.ndim())) return c;
  auto sa = a.shape();
  auto sb = b.shape();
  for (size_t i = 0; i < sa.size(); ++i) {
    if (int c = CompareScalars(sa[i], sb[i])) return c;
  }
  for (uint64_t i = 0; i < a.size(); ++i) {
    int c;
    if constexpr (std::is_floating_point_v<T>) {
      c = CompareFloats(a[i], b[i]);
    } else {
      c = CompareScalars(a[i], b[i]);
    }
    if (c) return c;
  }
  return 0;
}

// Calls `f(ref)` for every object handle in `values`, at any depth.
template <typename F>
void VisitObjects(ValueSequence values, F&& f) {
  for (ValueView v : values) {
    if (v.tag() == Tag::kObject) {
      f(v.AsObject());
    } else if (v.tag() == Tag::kTuple) {
      VisitObjects(v.AsTuple(), f);
    }
  }
}

// Header flags a value contributes (objects, errors), at any depth.
uint8_t FlagsOf(ValueView v) {
  switch (v.tag()) {
    case Tag::kObject:
      return kRowHasObjects;
    case Tag::kError:
      return kRowHasErrors;
    case Tag::kTuple: {
      uint8_t flags = 0;
      for (ValueView e : v.AsTuple()) flags |= FlagsOf(e);
      return flags;
    }
    default:
      return 0;
  }
}

void HashSequenceSkippingPointers(XXH3_state_t* state, ValueSequence values) {
  for (ValueView v : values) {
    auto bytes = v.encoded();
    if (v.tag() == Tag::kObject) {
      XXH3_128bits_update(state, bytes.data(), 17);  // tag and fingerprint, not the pointer
    } else if (v.tag() == Tag::kTuple) {
      auto elements = v.AsTuple().bytes();
      XXH3_128bits_update(state, bytes.data(), elements.data() - bytes.data());
      HashSequenceSkippingPointers(state, v.AsTuple());
    } else {
      XXH3_128bits_update(state, bytes.data(), bytes.size());
    }
  }
}

// Python-like quoting; `is_bytes` also escapes bytes outside printable ASCII.
void AppendQuoted(std::string& out, std::string_view text, bool is_bytes) {
  out.push_back('"');
  for (char c : text) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 ||
            (is_bytes && static_cast<unsigned char>(c) >= 0x7f)) {
          out += fmt::format("\\x{:02x}", static_cast<unsigned char>(c));
        } else {
          out.push_back(c);
        }
    }
  }
  out.push_back('"');
}

std::string FloatText(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  std::string text = fmt::format("{}", v);
  if (text.find_first_of(".e") == std::string::npos) text += ".0";
  return text;
}

template <typename T>
void AppendArray(std::string& out, NdArrayView<T> array) {
  out += "array([";
  for (uint64_t i = 0; i < array.size(); ++i) {
    if (i) out += ", ";
    if constexpr (std::is_floating_point_v<T>) {
      out += FloatText(array[i]);
    } else {
      out += fmt::format("{}", array[i]);
    }
  }
  out += "], shape=(";
  auto shape = array.shape();
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) out += ", ";
    out += fmt::format("{}", shape[i]);
  }
  if (shape.size() == 1) out += ",";
  out += "))";
}

void AppendDebug(std::string& out, ValueView v) {
  switch (v.kind()) {
    case ValueKind::kNull:
      out += "None";
      return;
    case ValueKind::kBool:
      out += v.AsBool() ? "True" : "False";
      return;
    case ValueKind::kInt:
      out += fmt::format("{}", v.AsInt());
      return;
    case ValueKind::kFloat:
      out += FloatText(v.AsFloat());
      return;
    case ValueKind::kKey:
      out += v.AsKey().ToString();
      return;
    case ValueKind::kString:
      AppendQuoted(out, v.AsString(), /*is_bytes=*/false);
      return;
    case ValueKind::kBytes: {
      auto b = v.AsBytes();
      out += "b";
      AppendQuoted(out, {reinterpret_cast<const char*>(b.data()), b.size()}, /*is_bytes=*/true);
      return;
    }
    case ValueKind::kTuple: {
      out += "(";
      size_t n = 0;
      for (ValueView e : v.AsTuple()) {
        if (n++) out += ", ";
        AppendDebug(out, e);
      }
      if (n == 1) out += ",";
      out += ")";
      return;
    }
    case ValueKind::kIntArray:
      AppendArray(out, v.AsIntArray());
      return;
    case ValueKind::kFloatArray:
      AppendArray(out, v.AsFloatArray());
      return;
    case ValueKind::kDateTimeNaive:
      out += absl::FormatTime("%Y-%m-%dT%H:%M:%E*S", absl::FromUnixNanos(v.AsNanos()),
                              absl::UTCTimeZone());
      return;
    case ValueKind::kDateTimeUtc:
      out += absl::FormatTime("%Y-%m-%dT%H:%M:%E*S%Ez", absl::FromUnixNanos(v.AsNanos()),
                              absl::UTCTimeZone());
      return;
    case ValueKind::kDuration:
      out += absl::FormatDuration(absl::Nanoseconds(v.AsNanos()));
      return;
    case ValueKind::kJson:
      out += v.AsJson();
      return;
    case ValueKind::kError:
      out += "Error";
      return;
    case ValueKind::kObject:
      out += "PyObject(" + v.ObjectFingerprint().ToString() + ")";
      return;
  }
}

// Validation of untrusted bytes; every read is bounds-checked.
class Validator {
 public:
  Validator(const uint8_t* begin, const uint8_t* end, bool allow_objects)
      : begin_(begin), end_(end), allow_objects_(allow_objects) {}

  // Validates values in [p, end) until `end`, or exactly `expected_count` values when set.
  absl::Status Sequence(const uint8_t* p, const uint8_t* end, const uint64_t* expected_count) {
    uint64_t count = 0;
    while (p < end) {
      const uint8_t* next = nullptr;
      if (absl::Status s = OneValue(p, end, &next); !s.ok()) return s;
      p = next;
      ++count;
    }
    if (expected_count != nullptr && count != *expected_count) {
      return Fail(p, fmt::format("tuple declares {} values but holds {}", *expected_count, count));
    }
    return absl::OkStatus();
  }

  uint8_t flags() const { return flags_; }

 private:
  absl::Status Fail(const uint8_t* at, std::string_view why) const {
    return absl::InvalidArgumentError(
        fmt::format("invalid row encoding at byte {}: {}", at - begin_, why));
  }

  absl::Status Need(const uint8_t* p, const uint8_t* end, uint64_t n) const {
    if (static_cast<uint64_t>(end - p) < n) return Fail(p, "truncated value");
    return absl::OkStatus();
  }

  absl::Status Varint(const uint8_t** p, const uint8_t* end, uint64_t* out) const {
    if (!DecodeVarintChecked(p, end, out)) return Fail(*p, "malformed or overlong varint");
    return absl::OkStatus();
  }

  absl::Status OneValue(const uint8_t* p, const uint8_t* end, const uint8_t** next) {
    const uint8_t* start = p;
    uint8_t tag_byte = *p++;
    if (tag_byte == 0 || tag_byte > kMaxTag) {
      return Fail(start, fmt::format("unknown tag {}", static_cast<int>(tag_byte)));
    }
    Tag tag = static_cast<Tag>(tag_byte);
    switch (tag) {
      case Tag::kNull:
      case Tag::kFalse:
      case Tag::kTrue:
        break;
      case Tag::kError:
        flags_ |= kRowHasErrors;
        break;
      case Tag::kInt8:
      case Tag::kInt16:
      case Tag::kInt32:
      case Tag::kInt64: {
        size_t width = size_t{1} << (tag_byte - static_cast<uint8_t>(Tag::kInt8));
        if (absl::Status s = Need(p, end, width); !s.ok()) return s;
        int64_t v = row_internal::LoadSigned(p, width);
        bool fits_narrower =
            (width == 2 && v >= INT8_MIN && v <= INT8_MAX) ||
            (width == 4 && v >= INT16_MIN && v <= INT16_MAX) ||
            (width == 8 && v >= INT32_MIN && v <= INT32_MAX);
        if (fits_narrower) return Fail(start, "integer not in its shortest form");
        p += width;
        break;
      }
      case Tag::kFloat: {
        if (absl::Status s = Need(p, end, 8); !s.ok()) return s;
        uint64_t bits = row_internal::LoadU64(p);
        double v;
        std::memcpy(&v, &bits, 8);
        if (bits != CanonicalFloatBits(v)) return Fail(start, "float not canonical");
        p += 8;
        break;
      }
      case Tag::kDateTimeNaive:
      case Tag::kDateTimeUtc:
      case Tag::kDuration:
        if (absl::Status s = Need(p, end, 8); !s.ok()) return s;
        p += 8;
        break;
      case Tag::kKey:
        if (absl::Status s = Need(p, end, 16); !s.ok()) return s;
        p += 16;
        break;
      case Tag::kObject:
        if (!allow_objects_) {
          return Fail(start, "object handles are only valid inside the process that made them");
        }
        if (absl::Status s = Need(p, end, 24); !s.ok()) return s;
        flags_ |= kRowHasObjects;
        p += 24;
        break;
      case Tag::kString:
      case Tag::kBytes:
      case Tag::kJson: {
        uint64_t len = 0;
        if (absl::Status s = Varint(&p, end, &len); !s.ok()) return s;
        if (absl::Status s = Need(p, end, len); !s.ok()) return s;
        const char* text = reinterpret_cast<const char*>(p);
        if (tag != Tag::kBytes && !simdjson::validate_utf8(text, len)) {
          return Fail(start, "text is not valid UTF-8");
        }
        if (tag == Tag::kJson) {
          auto canonical = CanonicalJson(std::string_view(text, len));
          if (!canonical.ok() || *canonical != std::string_view(text, len)) {
            return Fail(start, "json not in canonical form");
          }
        }
        p += len;
        break;
      }
      case Tag::kTuple: {
        uint64_t count = 0;
        uint64_t len = 0;
        if (absl::Status s = Varint(&p, end, &count); !s.ok()) return s;
        if (absl::Status s = Varint(&p, end, &len); !s.ok()) return s;
        if (absl::Status s = Need(p, end, len); !s.ok()) return s;
        if (absl::Status s = Sequence(p, p + len, &count); !s.ok()) return s;
        p += len;
        break;
      }
      case Tag::kIntArray:
      case Tag::kFloatArray: {
        uint64_t ndim = 0;
        if (absl::Status s = Varint(&p, end, &ndim); !s.ok()) return s;
        unsigned __int128 count = 1;
        for (uint64_t i = 0; i < ndim; ++i) {
          uint64_t dim = 0;
          if (absl::Status s = Varint(&p, end, &dim); !s.ok()) return s;
          count *= dim;
          if (count > (uint64_t{1} << 56)) return Fail(start, "array too large");
        }
        uint64_t bytes = static_cast<uint64_t>(count) * 8;
        if (absl::Status s = Need(p, end, bytes); !s.ok()) return s;
        if (tag == Tag::kFloatArray) {
          for (uint64_t i = 0; i < count; ++i) {
            uint64_t bits = row_internal::LoadU64(p + 8 * i);
            double v;
            std::memcpy(&v, &bits, 8);
            if (bits != CanonicalFloatBits(v)) return Fail(start, "array float not canonical");
          }
        }
        p += bytes;
        break;
      }
    }
    *next = p;
    return absl::OkStatus();
  }

  const uint8_t* begin_;
  const uint8_t* end_;
  bool allow_objects_;
  uint8_t flags_ = 0;
};

}  // namespace

std::string_view ValueKindName(ValueKind kind) {
  switch (kind) {
    case ValueKind::kNull:
      return "None";
    case ValueKind::kBool:
      return "bool";
    case ValueKind::kInt:
      return "int";
    case ValueKind::kFloat:
      return "float";
    case ValueKind::kKey:
      return "Pointer";
    case ValueKind::kString:
      return "str";
    case ValueKind::kBytes:
      return "bytes";
    case ValueKind::kTuple:
      return "tuple";
    case ValueKind::kIntArray:
      return "int array";
    case ValueKind::kFloatArray:
      return "float array";
    case ValueKind::kDateTimeNaive:
      return "DateTimeNaive";
    case ValueKind::kDateTimeUtc:
      return "DateTimeUtc";
    case ValueKind::kDuration:
      return "Duration";
    case ValueKind::kJson:
      return "Json";
    case ValueKind::kError:
      return "Error";
    case ValueKind::kObject:
      return "PyObjectWrapper";
  }
  return "unknown";
}

ValueKind KindOfTag(Tag tag) {
  static constexpr ValueKind kKinds[] = {
      ValueKind::kNull,          // 0x00 (unused)
      ValueKind::kNull,          ValueKind::kBool,        ValueKind::kBool,
      ValueKind::kInt,           ValueKind::kInt,         ValueKind::kInt,
      ValueKind::kInt,           ValueKind::kFloat,       ValueKind::kKey,
      ValueKind::kString,        ValueKind::kBytes,       ValueKind::kTuple,
      ValueKind::kIntArray,      ValueKind::kFloatArray,  ValueKind::kDateTimeNaive,
      ValueKind::kDateTimeUtc,   ValueKind::kDuration,    ValueKind::kJson,
      ValueKind::kError,         ValueKind::kObject,
  };
  DELTAFLOW_DCHECK(static_cast<uint8_t>(tag) <= kMaxTag, "not a value tag");
  return kKinds[static_cast<uint8_t>(tag)];
}

namespace row_internal {

size_t EncodedSize(const uint8_t* p) {
  switch (static_cast<Tag>(p[0])) {
    case Tag::kNull:
    case Tag::kFalse:
    case Tag::kTrue:
    case Tag::kError:
      return 1;
    case Tag::kInt8:
      return 2;
    case Tag::kInt16:
      return 3;
    case Tag::kInt32:
      return 5;
    case Tag::kInt64:
    case Tag::kFloat:
    case Tag::kDateTimeNaive:
    case Tag::kDateTimeUtc:
    case Tag::kDuration:
      return 9;
    case Tag::kKey:
      return 17;
    case Tag::kObject:
      return 25;
    case Tag::kString:
    case Tag::kBytes:
    case Tag::kJson: {
      const uint8_t* q = p + 1;
      uint64_t len = DecodeVarint(&q);
      return static_cast<size_t>(q - p) + len;
    }
    case Tag::kTuple: {
      const uint8_t* q = p + 1;
      DecodeVarint(&q);
      uint64_t len = DecodeVarint(&q);
      return static_cast<size_t>(q - p) + len;
    }
    case Tag::kIntArray:
    case Tag::kFloatArray: {
      const uint8_t* q = p + 1;
      uint64_t ndim = DecodeVarint(&q);
      uint64_t count = 1;
      for (uint64_t i = 0; i < ndim; ++i) count *= DecodeVarint(&q);
      return static_cast<size_t>(q - p) + count * 8;
    }
  }
  DELTAFLOW_CHECK(false, "corrupt row: unknown value tag");
  return 0;
}

}  // namespace row_internal

size_t ValueSequence::size() const {
  size_t n = 0;
  for (const uint8_t* p = begin_; p < end_; p += row_internal::EncodedSize(p)) ++n;
  return n;
}

ValueView ValueSequence::operator[](size_t index) const {
  const uint8_t* p = begin_;
  for (size_t i = 0; i < index; ++i) p += row_internal::EncodedSize(p);
  DELTAFLOW_DCHECK(p < end_, "value index out of range");
  return ValueView(p);
}

ValueSequence ValueView::AsTuple() const {
  DELTAFLOW_DCHECK(tag() == Tag::kTuple, "value is not a tuple");
  const uint8_t* p = data_ + 1;
  DecodeVarint(&p);
  uint64_t len = DecodeVarint(&p);
  return ValueSequence(p, p + len);
}

std::string ValueView::DebugString() const {
  std::string out;
  AppendDebug(out, *this);
  return out;
}

std::string RowView::DebugString() const {
  std::string out = "(";
  size_t n = 0;
  for (ValueView v : values()) {
    if (n++) out += ", ";
    AppendDebug(out, v);
  }
  out += ")";
  return out;
}

int CompareValues(ValueView a, ValueView b) {
  ValueKind ka = a.kind();
  ValueKind kb = b.kind();
  if (ka != kb) return CompareScalars(static_cast<int>(ka), static_cast<int>(kb));
  switch (ka) {
    case ValueKind::kNull:
    case ValueKind::kError:
      return 0;
    case ValueKind::kBool:
      return CompareScalars(a.AsBool(), b.AsBool());
    case ValueKind::kInt:
      return CompareScalars(a.AsInt(), b.AsInt());
    case ValueKind::kFloat:
      return CompareFloats(a.AsFloat(), b.AsFloat());
    case ValueKind::kKey:
      return CompareScalars(a.AsKey(), b.AsKey());
    case ValueKind::kString:
      return CompareByteStrings(a.AsString(), b.AsString());
    case ValueKind::kBytes: {
      auto x = a.AsBytes();
      auto y = b.AsBytes();
      return CompareByteStrings({reinterpret_cast<const char*>(x.data()), x.size()},
                                {reinterpret_cast<const char*>(y.data()), y.size()});
    }
    case ValueKind::kJson:
      return CompareByteStrings(a.AsJson(), b.AsJson());
    case ValueKind::kTuple:
      return CompareSequences(a.AsTuple(), b.AsTuple());
    case ValueKind::kIntArray:
      return CompareArrays(a.AsIntArray(), b.AsIntArray());
    case ValueKind::kFloatArray:
      return CompareArrays(a.AsFloatArray(), b.AsFloatArray());
    case ValueKind::kDateTimeNaive:
    case ValueKind::kDateTimeUtc:
    case ValueKind::kDuration:
      return CompareScalars(a.AsNanos(), b.AsNanos());
    case ValueKind::kObject:
      return CompareScalars(a.ObjectFingerprint(), b.ObjectFingerprint());
  }
  return 0;
}

int CompareSequences(ValueSequence a, ValueSequence b) {
  auto ia = a.begin();
  auto ib = b.begin();
  while (true) {
    bool a_done = ia == a.end();
    bool b_done = ib == b.end();
    if (a_done || b_done) return static_cast<int>(b_done) - static_cast<int>(a_done);
    if (int c = CompareValues(*ia, *ib)) return c;
    ++ia;
    ++ib;
  }
}

Key HashRow(RowView row) {
  if (!row.has_objects()) return StableHash128(row.data() + 1, row.size() - 1);
  XXH3_state_t state;
  XXH3_INITSTATE(&state);
  XXH3_128bits_reset(&state);
  HashSequenceSkippingPointers(&state, row.values());
  XXH128_hash_t h = XXH3_128bits_digest(&state);
  return Key(h.high64, h.low64);
}

namespace {

// The id encoding of one value (see `IdFromValues`): a tag byte and a fixed-layout payload.
void AppendIdEncoding(ValueView v, std::string& out) {
  auto put64 = [&](uint64_t x) { out.append(reinterpret_cast<const char*>(&x), 8); };
  auto put_text = [&](uint8_t tag, const void* data, size_t size) {
    out.push_back(static_cast<char>(tag));
    put64(size);
    out.append(static_cast<const char*>(data), size);
  };
  switch (v.kind()) {
    case ValueKind::kNull:
      out.push_back(0);
      return;
    case ValueKind::kBool:
      out.push_back(1);
      out.push_back(v.AsBool() ? 1 : 0);
      return;
    case ValueKind::kInt:
      out.push_back(2);
      put64(static_cast<uint64_t>(v.AsInt()));
      return;
    case ValueKind::kFloat: {
      double d = v.AsFloat();
      uint64_t bits = 0;
      if (d != d) {
        bits = ~0ULL;
      } else if (d != 0) {
        std::memcpy(&bits, &d, 8);
      }
      out.push_back(3);
      put64(bits);
      return;
    }
    case ValueKind::kKey: {
      Key k = v.AsKey();
      out.push_back(4);
      put64(k.low());
      put64(k.high());
      return;
    }
    case ValueKind::kString: {
      std::string_view t = v.AsString();
      put_text(5, t.data(), t.size());
      return;
    }
    case ValueKind::kTuple: {
      ValueSequence items = v.AsTuple();
      out.push_back(6);
      put64(items.size());
      for (ValueView item : items) AppendIdEncoding(item, out);
      return;
    }
    case ValueKind::kIntArray:
    case ValueKind::kFloatArray: {
      out.push_back(v.kind() == ValueKind::kIntArray ? 7 : 8);
      auto bytes = v.encoded();
      put64(bytes.size());
      out.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
      return;
    }
    case ValueKind::kDateTimeNaive:
    case ValueKind::kDateTimeUtc:
    case ValueKind::kDuration:
      out.push_back(v.kind() == ValueKind::kDateTimeNaive ? 9 : v.kind() == ValueKind::kDateTimeUtc ? 10 : 11);
      put64(static_cast<uint64_t>(v.AsNanos()));
      return;
    case ValueKind::kBytes: {
      auto b = v.AsBytes();
      put_text(12, b.data(), b.size());
      return;
    }
    case ValueKind::kJson: {
      std::string_view t = v.AsJson();
      put_text(13, t.data(), t.size());
      return;
    }
    case ValueKind::kError:
      out.push_back(14);
      return;
    case ValueKind::kObject: {
      Key f = v.ObjectFingerprint();
      out.push_back(15);
      put64(f.low());
      put64(f.high());
      return;
    }
  }
}

}  // namespace

Key IdFromValues(ValueSequence values) {
  if (values.empty()) return Key(0, 0x40108D33B7ULL);
  // Ids are derived per row (group keys, joins, sources): reuse one buffer per thread.
  thread_local std::string bytes;
  bytes.clear();
  for (ValueView v : values) AppendIdEncoding(v, bytes);
  return StableHash128(bytes.data(), bytes.size());
}

Key IdFromPointerPair(const std::optional<Key>& first, const std::optional<Key>& second) {
  // The bytes `IdFromValues` hashes for [first, second]: a pointer as tag 4 and its two
  // halves, a missing one as None (tag 0).
  uint8_t bytes[2 * 17];
  size_t size = 0;
  for (const std::optional<Key>* k : {&first, &second}) {
    if (!*k) {
      bytes[size++] = 0;
      continue;
    }
    bytes[size++] = 4;
    uint64_t halves[2] = {(*k)->low(), (*k)->high()};
    std::memcpy(bytes + size, halves, 16);
    size += 16;
  }
  return StableHash128(bytes, size);
}

Key WithShard(Key key, Key shard) {
  return Key(key.high(), (key.low() & ~0xFFFFULL) | (shard.low() & 0xFFFFULL));
}

absl::Status ValidateRow(std::span<const uint8_t> bytes, bool allow_objects) {
  if (bytes.empty()) return absl::InvalidArgumentError("invalid row encoding: empty");
  uint8_t header = bytes[0];
  if ((header & 0x0f) != kRowEncodingVersion) {
    return absl::InvalidArgumentError(
        fmt::format("invalid row encoding: version {}, this build reads {}", header & 0x0f,
                    kRowEncodingVersion));
  }
  if ((header & ~(0x0f | kRowHasObjects | kRowHasErrors)) != 0) {
    return absl::InvalidArgumentError("invalid row encoding: unknown header flags");
  }
  const uint8_t* begin = bytes.data();
  const uint8_t* end = begin + bytes.size();
  Validator validator(begin, end, allow_objects);
  if (absl::Status s = validator.Sequence(begin + 1, end, nullptr); !s.ok()) return s;
  if (validator.flags() != (header & (kRowHasObjects | kRowHasErrors))) {
    return absl::InvalidArgumentError("invalid row encoding: header flags disagree with values");
  }
  return absl::OkStatus();
}

void Row::ForEachObject(bool retain) {
  VisitObjects(values(), [retain](ObjectRef* ref) {
    if (retain) {
      ref->Retain();
    } else {
      ref->Release();
    }
  });
}

RowBuilder& RowBuilder::Int(int64_t v) {
  ++count_;
  Tag tag;
  size_t width;
  if (v >= INT8_MIN && v <= INT8_MAX) {
    tag = Tag::kInt8;
    width = 1;
  } else if (v >= INT16_MIN && v <= INT16_MAX) {
    tag = Tag::kInt16;
    width = 2;
  } else if (v >= INT32_MIN && v <= INT32_MAX) {
    tag = Tag::kInt32;
    width = 4;
  } else {
    tag = Tag::kInt64;
    width = 8;
  }
  size_t at = buffer_.size();
  buffer_.resize(at + 1 + width);
  buffer_[at] = static_cast<uint8_t>(tag);
  // Little-endian machine: the low `width` bytes of the two's complement value.
  std::memcpy(buffer_.data() + at + 1, &v, width);
  return *this;
}

RowBuilder& RowBuilder::Float(double v) { return PutFixed64(Tag::kFloat, CanonicalFloatBits(v)); }

RowBuilder& RowBuilder::Pointer(Key key) {
  ++count_;
  size_t at = buffer_.size();
  buffer_.resize(at + 17);
  buffer_[at] = static_cast<uint8_t>(Tag::kKey);
  uint64_t words[2] = {key.high(), key.low()};
  std::memcpy(buffer_.data() + at + 1, words, 16);
  return *this;
}

RowBuilder& RowBuilder::PutText(Tag tag, std::string_view text) {
  ++count_;
  size_t at = buffer_.size();
  buffer_.resize(at + 1 + kMaxVarintBytes + text.size());
  uint8_t* out = buffer_.data() + at;
  *out++ = static_cast<uint8_t>(tag);
  out += EncodeVarint(text.size(), out);
  std::memcpy(out, text.data(), text.size());
  buffer_.resize(static_cast<size_t>(out - buffer_.data()) + text.size());
  return *this;
}

absl::Status RowBuilder::Json(std::string_view text) {
  absl::StatusOr<std::string> canonical = CanonicalJson(text);
  if (!canonical.ok()) return canonical.status();
  CanonicalJsonText(*canonical);
  return absl::OkStatus();
}

RowBuilder& RowBuilder::Object(ObjectRef* ref) {
  ++count_;
  buffer_[0] |= kRowHasObjects;
  size_t at = buffer_.size();
  buffer_.resize(at + 25);
  buffer_[at] = static_cast<uint8_t>(Tag::kObject);
  Key fp = ref->fingerprint();
  uint64_t words[2] = {fp.high(), fp.low()};
  std::memcpy(buffer_.data() + at + 1, words, 16);
  std::memcpy(buffer_.data() + at + 17, &ref, sizeof(ref));
  return *this;
}

template <typename T>
RowBuilder& RowBuilder::PutArray(Tag tag, std::span<const uint64_t> shape,
                                 std::span<const T> elements) {
  uint64_t count = 1;
  for (uint64_t d : shape) count *= d;
  DELTAFLOW_CHECK(count == elements.size(), "array shape does not match its element count");
  ++count_;
  size_t at = buffer_.size();
  buffer_.resize(at + 1 + kMaxVarintBytes * (1 + shape.size()) + elements.size() * 8);
  uint8_t* out = buffer_.data() + at;
  *out++ = static_cast<uint8_t>(tag);
  out += EncodeVarint(shape.size(), out);
  for (uint64_t d : shape) out += EncodeVarint(d, out);
  for (T e : elements) {
    uint64_t bits;
    if constexpr (std::is_floating_point_v<T>) {
      bits = CanonicalFloatBits(e);
    } else {
      bits = static_cast<uint64_t>(e);
    }
    std::memcpy(out, &bits, 8);
    out += 8;
  }
  buffer_.resize(static_cast<size_t>(out - buffer_.data()));
  return *this;
}

RowBuilder& RowBuilder::IntArray(std::span<const uint64_t> shape,
                                 std::span<const int64_t> elements) {
  return PutArray<int64_t>(Tag::kIntArray, shape, elements);
}

RowBuilder& RowBuilder::FloatArray(std::span<const uint64_t> shape,
                                   std::span<const double> elements) {
  return PutArray<double>(Tag::kFloatArray, shape, elements);
}

RowBuilder& RowBuilder::BeginTuple() {
  open_tuples_.push_back(OpenTuple{buffer_.size(), count_});
  buffer_.push_back(static_cast<uint8_t>(Tag::kTuple));
  count_ = 0;
  return *this;
}

RowBuilder& RowBuilder::EndTuple() {
  DELTAFLOW_CHECK(!open_tuples_.empty(), "EndTuple without BeginTuple");
  OpenTuple open = open_tuples_.back();
  open_tuples_.pop_back();
  size_t payload_begin = open.tag_offset + 1;
  uint64_t payload_len = buffer_.size() - payload_begin;
  uint8_t prefix[2 * kMaxVarintBytes];
  size_t n = EncodeVarint(count_, prefix);
  n += EncodeVarint(payload_len, prefix + n);
  buffer_.insert(buffer_.begin() + static_cast<std::ptrdiff_t>(payload_begin), prefix,
                 prefix + n);
  count_ = open.count_before + 1;
  return *this;
}

RowBuilder& RowBuilder::Value(ValueView value) {
  ++count_;
  buffer_[0] |= FlagsOf(value);
  auto bytes = value.encoded();
  buffer_.insert(buffer_.end(), bytes.begin(), bytes.end());
  return *this;
}

Row RowBuilder::Finish() {
  DELTAFLOW_CHECK(open_tuples_.empty(), "Finish with an open tuple");
  Row row(std::span<const uint8_t>(buffer_.data(), buffer_.size()));
  Clear();
  return row;
}

}  // namespace deltaflow::value
