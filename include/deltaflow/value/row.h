// Row: the canonical byte encoding of a tuple of values.
//
// Every value deltaflow stores or moves — table cells, group keys, join keys — lives in a
// `Row`: a compact byte string with one header byte followed by the encoded values. The
// encoding is canonical: two rows hold equal values exactly when their bytes are equal, so
// equality and hashing work on the bytes, and `CompareRows` walks the bytes without building
// any value objects. Exchange between workers, persistence and id derivation use the same
// bytes. (The design follows Materialize's `Row`/`Datum`.)
//
// Layout:
//   row    := header value*
//   header := one byte: low nibble = encoding version (kRowEncodingVersion),
//             0x10 = some value (at any depth) is an object handle,
//             0x20 = some value (at any depth) is an Error
//   value  := tag payload
//
// | tag              | payload                                                     |
// |------------------|-------------------------------------------------------------|
// | Null/False/True  | none                                                        |
// | Int8..Int64      | the integer in the fewest little-endian bytes that hold it  |
// | Float            | 8 bytes IEEE-754, -0.0 stored as 0.0, every NaN as one NaN  |
// | Key              | 16 bytes: high word, low word (little-endian)               |
// | String, Bytes    | varint length, bytes (strings are UTF-8)                    |
// | Json             | varint length, canonical JSON text (fields in written order, no spaces) |
// | Tuple            | varint count, varint payload length, values                 |
// | Int/FloatArray   | varint ndim, ndim varint dims, elements as 8-byte LE        |
// | DateTime*, Dur.  | 8 bytes: signed nanoseconds (since the epoch, or a span)    |
// | Error            | none (the reason goes to the error log, not the cell)       |
// | Object           | 16-byte fingerprint, 8-byte ObjectRef pointer               |
//
// Values of different kinds order by `ValueKind`; within a kind by value (numbers
// numerically with NaN greatest, strings and bytes bytewise, tuples lexicographically).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/inlined_vector.h"
#include "absl/status/status.h"
#include "deltaflow/base/check.h"
#include "deltaflow/value/key.h"
#include "deltaflow/value/object_ref.h"
#include "deltaflow/value/varint.h"

namespace deltaflow::value {

inline constexpr uint8_t kRowEncodingVersion = 1;
inline constexpr uint8_t kRowHasObjects = 0x10;
inline constexpr uint8_t kRowHasErrors = 0x20;

/// The byte that starts each encoded value. Values are part of the persisted format: never
/// renumber them.
enum class Tag : uint8_t {
  kNull = 0x01,
  kFalse = 0x02,
  kTrue = 0x03,
  kInt8 = 0x04,
  kInt16 = 0x05,
  kInt32 = 0x06,
  kInt64 = 0x07,
  kFloat = 0x08,
  kKey = 0x09,
  kString = 0x0a,
  kBytes = 0x0b,
  kTuple = 0x0c,
  kIntArray = 0x0d,
  kFloatArray = 0x0e,
  kDateTimeNaive = 0x0f,
  kDateTimeUtc = 0x10,
  kDuration = 0x11,
  kJson = 0x12,
  kError = 0x13,
  kObject = 0x14,
};
inline constexpr uint8_t kMaxTag = 0x14;

/// The kind of a value, in the order values of different kinds compare.
enum class ValueKind : uint8_t {
  kNull,
  kBool,
  kInt,
  kFloat,
  kKey,
  kString,
  kBytes,
  kTuple,
  kIntArray,
  kFloatArray,
  kDateTimeNaive,
  kDateTimeUtc,
  kDuration,
  kJson,
  kError,
  kObject,
};

/// The name users see for a kind ("int", "str", ...).
std::string_view ValueKindName(ValueKind kind);

/// The kind a tag encodes. It is an error to pass a byte that is not a tag.
ValueKind KindOfTag(Tag tag);

namespace row_internal {

inline uint64_t LoadU64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

inline int64_t LoadSigned(const uint8_t* p, size_t width) {
  switch (width) {
    case 1:
      return static_cast<int8_t>(p[0]);
    case 2: {
      int16_t v;
      std::memcpy(&v, p, 2);
      return v;
    }
    case 4: {
      int32_t v;
      std::memcpy(&v, p, 4);
      return v;
    }
    default: {
      int64_t v;
      std::memcpy(&v, p, 8);
      return v;
    }
  }
}

/// Size in bytes of the value starting at `p` (tag included), for trusted memory.
size_t EncodedSize(const uint8_t* p);

}  // namespace row_internal

class ValueView;

/// A run of encoded values: a row's contents or a tuple's elements. Iterating yields
/// `ValueView`s; it is cheap to copy and borrows the memory it points to.
class ValueSequence {
 public:
  class Iterator {
   public:
    using value_type = ValueView;
    using difference_type = std::ptrdiff_t;
    Iterator() = default;
    explicit Iterator(const uint8_t* p) : p_(p) {}
    ValueView operator*() const;
    Iterator& operator++() {
      p_ += row_internal::EncodedSize(p_);
      return *this;
    }
    Iterator operator++(int) {
      Iterator copy = *this;
      ++*this;
      return copy;
    }
    bool operator==(const Iterator& other) const { return p_ == other.p_; }

   private:
    const uint8_t* p_ = nullptr;
  };

  ValueSequence() = default;
  ValueSequence(const uint8_t* begin, const uint8_t* end) : begin_(begin), end_(end) {}

  Iterator begin() const { return Iterator(begin_); }
  Iterator end() const { return Iterator(end_); }
  bool empty() const { return begin_ == end_; }
  /// The number of values; walks the sequence.
  size_t size() const;
  /// The `index`-th value; walks the sequence. It is an error to pass `index >= size()`.
  ValueView operator[](size_t index) const;
  std::span<const uint8_t> bytes() const { return {begin_, end_}; }

 private:
  const uint8_t* begin_ = nullptr;
  const uint8_t* end_ = nullptr;
};

/// An n-dimensional array of 8-byte elements (int64 or double) inside a row.
template <typename T>
class NdArrayView {
 public:
  NdArrayView() = default;
  NdArrayView(const uint8_t* shape, uint64_t ndim, const uint8_t* elements, uint64_t count)
      : shape_(shape), ndim_(ndim), elements_(elements), count_(count) {}

  uint64_t ndim() const { return ndim_; }
  absl::InlinedVector<uint64_t, 4> shape() const {
    absl::InlinedVector<uint64_t, 4> dims;
    const uint8_t* p = shape_;
    for (uint64_t i = 0; i < ndim_; ++i) dims.push_back(DecodeVarint(&p));
    return dims;
  }
  /// The number of elements (the product of the dimensions).
  uint64_t size() const { return count_; }
  /// The `index`-th element in row-major order.
  T operator[](uint64_t index) const {
    T v;
    std::memcpy(&v, elements_ + index * sizeof(T), sizeof(T));
    return v;
  }
  /// Copies all elements, row-major, to `out` (room for `size()` elements).
  void CopyTo(T* out) const { std::memcpy(out, elements_, count_ * sizeof(T)); }

 private:
  const uint8_t* shape_ = nullptr;
  uint64_t ndim_ = 0;
  const uint8_t* elements_ = nullptr;
  uint64_t count_ = 0;
};

/// A borrowed view of one encoded value. Accessors must match `kind()`: it is an error to call
/// `AsInt()` on a string.
class ValueView {
 public:
  ValueView() = default;
  /// The value whose tag is at `data` (trusted, well-formed memory).
  explicit ValueView(const uint8_t* data) : data_(data) {}

  Tag tag() const { return static_cast<Tag>(data_[0]); }
  ValueKind kind() const { return KindOfTag(tag()); }
  /// The encoded bytes of this value, tag included.
  std::span<const uint8_t> encoded() const { return {data_, row_internal::EncodedSize(data_)}; }

  bool IsNull() const { return tag() == Tag::kNull; }
  bool IsError() const { return tag() == Tag::kError; }

  bool AsBool() const {
    DELTAFLOW_DCHECK(kind() == ValueKind::kBool, "value is not a bool");
    return tag() == Tag::kTrue;
  }
  int64_t AsInt() const {
    DELTAFLOW_DCHECK(kind() == ValueKind::kInt, "value is not an int");
    return row_internal::LoadSigned(data_ + 1, size_t{1} << (data_[0] - static_cast<uint8_t>(Tag::kInt8)));
  }
  double AsFloat() const {
    DELTAFLOW_DCHECK(kind() == ValueKind::kFloat, "value is not a float");
    double v;
    std::memcpy(&v, data_ + 1, sizeof(v));
    return v;
  }
  Key AsKey() const {
    DELTAFLOW_DCHECK(kind() == ValueKind::kKey, "value is not a pointer");
    return Key(row_internal::LoadU64(data_ + 1), row_internal::LoadU64(data_ + 9));
  }
  std::string_view AsString() const {
    DELTAFLOW_DCHECK(tag() == Tag::kString, "value is not a string");
    return AsText();
  }
  std::span<const uint8_t> AsBytes() const {
    DELTAFLOW_DCHECK(tag() == Tag::kBytes, "value is not bytes");
    std::string_view text = AsText();
    return {reinterpret_cast<const uint8_t*>(text.data()), text.size()};
  }
  /// Canonical JSON text.
  std::string_view AsJson() const {
    DELTAFLOW_DCHECK(tag() == Tag::kJson, "value is not json");
    return AsText();
  }
  ValueSequence AsTuple() const;
  NdArrayView<int64_t> AsIntArray() const { return ArrayView<int64_t>(); }
  NdArrayView<double> AsFloatArray() const { return ArrayView<double>(); }
  /// Nanoseconds: since the epoch for datetimes, the span for durations.
  int64_t AsNanos() const {
    DELTAFLOW_DCHECK(tag() == Tag::kDateTimeNaive || tag() == Tag::kDateTimeUtc ||
                         tag() == Tag::kDuration,
                     "value is not a datetime or duration");
    return static_cast<int64_t>(row_internal::LoadU64(data_ + 1));
  }
  Key ObjectFingerprint() const {
    DELTAFLOW_DCHECK(tag() == Tag::kObject, "value is not an object");
    return Key(row_internal::LoadU64(data_ + 1), row_internal::LoadU64(data_ + 9));
  }
  ObjectRef* AsObject() const {
    DELTAFLOW_DCHECK(tag() == Tag::kObject, "value is not an object");
    ObjectRef* ref;
    std::memcpy(&ref, data_ + 17, sizeof(ref));
    return ref;
  }

  /// A readable rendering for logs, errors and tests: `1`, `"a"`, `(1, None)`, ...
  std::string DebugString() const;

 private:
  std::string_view AsText() const {
    const uint8_t* p = data_ + 1;
    uint64_t len = DecodeVarint(&p);
    return {reinterpret_cast<const char*>(p), static_cast<size_t>(len)};
  }
  template <typename T>
  NdArrayView<T> ArrayView() const {
    DELTAFLOW_DCHECK(tag() == (sizeof(T) == 8 && std::is_floating_point_v<T> ? Tag::kFloatArray
                                                                             : Tag::kIntArray),
                     "value is not an array of this element type");
    const uint8_t* p = data_ + 1;
    uint64_t ndim = DecodeVarint(&p);
    const uint8_t* shape = p;
    uint64_t count = 1;
    for (uint64_t i = 0; i < ndim; ++i) count *= DecodeVarint(&p);
    return NdArrayView<T>(shape, ndim, p, count);
  }

  const uint8_t* data_ = nullptr;
};

inline ValueView ValueSequence::Iterator::operator*() const { return ValueView(p_); }

/// A borrowed view of an encoded row (header byte, then values).
class RowView {
 public:
  RowView() = default;
  RowView(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  explicit RowView(std::span<const uint8_t> bytes) : data_(bytes.data()), size_(bytes.size()) {}

  uint8_t header() const { return data_[0]; }
  uint8_t version() const { return data_[0] & 0x0f; }
  bool has_objects() const { return (data_[0] & kRowHasObjects) != 0; }
  bool has_errors() const { return (data_[0] & kRowHasErrors) != 0; }

  ValueSequence values() const { return {data_ + 1, data_ + size_}; }
  /// The number of values; walks the row.
  size_t arity() const { return values().size(); }
  ValueView operator[](size_t index) const { return values()[index]; }

  std::span<const uint8_t> bytes() const { return {data_, size_}; }
  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }

  bool operator==(const RowView& other) const {
    return size_ == other.size_ && std::memcmp(data_, other.data_, size_) == 0;
  }

  std::string DebugString() const;

 private:
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

/// Three-way comparison in deltaflow's value order: <0, 0 or >0.
int CompareValues(ValueView a, ValueView b);
/// Lexicographic comparison of value runs (a shorter prefix first).
int CompareSequences(ValueSequence a, ValueSequence b);
/// Compares rows by their values (the header is derived from them).
inline int CompareRows(RowView a, RowView b) {
  if (a == b) return 0;
  return CompareSequences(a.values(), b.values());
}

/// The stable id of a row's values: XXH3-128 over the encoded values, skipping the header and
/// the process-local pointer inside object handles. Equal values give equal keys in every
/// process and run.
Key HashRow(RowView row);

/// The id Pathway-style tables derive from values (`pointer_from`, group-by ids, primary
/// keys): XXH3-128 over a fixed per-value encoding (a tag byte, then 8-byte little-endian
/// integers, float bits with NaN and -0.0 canonical, length-prefixed text, tuples as a count
/// and their items). It matches the ids Pathway derives from the same values, so ids print
/// identically in both. No values give a fixed constant.
Key IdFromValues(ValueSequence values);

/// `IdFromValues` of two pointers, either of which may be None (missing), without building
/// a row: the ids of joined pairs.
Key IdFromPointerPair(const std::optional<Key>& first, const std::optional<Key>& second);

/// `key` with its low 16 bits (the part that picks a shard) taken from `shard`: how join
/// results and instance-partitioned groups stay close to their join key or instance.
Key WithShard(Key key, Key shard);

/// Checks that `bytes` is a well-formed, canonical row of the current version: known tags,
/// lengths within bounds, shortest integer and varint forms, canonical floats, valid UTF-8
/// strings, a header matching the contents. Rows holding object handles are rejected unless
/// `allow_objects` (a handle's pointer cannot be checked; only trust rows from this process).
absl::Status ValidateRow(std::span<const uint8_t> bytes, bool allow_objects = false);

/// An owned row. Small rows live inline. Copying a row that holds object handles retains
/// them; destroying it releases them.
class Row {
 public:
  Row() : bytes_{kRowEncodingVersion} {}
  /// Takes encoded bytes as they are; it is an error to pass bytes that are not a valid row.
  /// Object handles in `bytes` are retained.
  explicit Row(std::span<const uint8_t> bytes) : bytes_(bytes.begin(), bytes.end()) {
    RetainObjects();
  }
  explicit Row(RowView view) : Row(view.bytes()) {}
  Row(const Row& other) : bytes_(other.bytes_) { RetainObjects(); }
  Row(Row&& other) noexcept : bytes_(std::move(other.bytes_)) {
    other.bytes_.assign(1, kRowEncodingVersion);
  }
  Row& operator=(const Row& other) {
    if (this != &other) {
      Row copy(other);
      *this = std::move(copy);
    }
    return *this;
  }
  Row& operator=(Row&& other) noexcept {
    if (this != &other) {
      ReleaseObjects();
      bytes_ = std::move(other.bytes_);
      other.bytes_.assign(1, kRowEncodingVersion);
    }
    return *this;
  }
  ~Row() { ReleaseObjects(); }

  RowView view() const { return RowView(bytes_.data(), bytes_.size()); }
  operator RowView() const { return view(); }  // NOLINT(google-explicit-constructor)

  ValueSequence values() const { return view().values(); }
  size_t arity() const { return view().arity(); }
  ValueView operator[](size_t index) const { return view()[index]; }
  std::span<const uint8_t> bytes() const { return {bytes_.data(), bytes_.size()}; }
  size_t size() const { return bytes_.size(); }
  bool has_objects() const { return view().has_objects(); }
  bool has_errors() const { return view().has_errors(); }

  bool operator==(const Row& other) const { return view() == other.view(); }
  std::strong_ordering operator<=>(const Row& other) const {
    return CompareRows(view(), other.view()) <=> 0;
  }

  std::string DebugString() const { return view().DebugString(); }

 private:
  void RetainObjects() {
    if (!bytes_.empty() && (bytes_[0] & kRowHasObjects)) ForEachObject(/*retain=*/true);
  }
  void ReleaseObjects() {
    if (!bytes_.empty() && (bytes_[0] & kRowHasObjects)) ForEachObject(/*retain=*/false);
  }
  void ForEachObject(bool retain);

  absl::InlinedVector<uint8_t, 24> bytes_;
};

template <typename H>
H AbslHashValue(H state, const Row& row) {
  auto bytes = row.bytes();
  return H::combine_contiguous(std::move(state), bytes.data(), bytes.size());
}

/// Encodes values into a row. Push values in order, `BeginTuple`/`EndTuple` around the
/// elements of a tuple, then `Finish()` (which resets the builder for the next row). The
/// builder reuses its buffer, so building many rows allocates only for rows that do not fit
/// inline in `Row`.
class RowBuilder {
 public:
  RowBuilder() { Clear(); }

  void Clear() {
    buffer_.assign(1, kRowEncodingVersion);
    open_tuples_.clear();
    count_ = 0;
  }

  RowBuilder& Null() { return PutTag(Tag::kNull); }
  RowBuilder& Bool(bool v) { return PutTag(v ? Tag::kTrue : Tag::kFalse); }
  RowBuilder& Int(int64_t v);
  RowBuilder& Float(double v);
  RowBuilder& Pointer(Key key);
  RowBuilder& String(std::string_view text) { return PutText(Tag::kString, text); }
  RowBuilder& Bytes(std::span<const uint8_t> bytes) {
    return PutText(Tag::kBytes,
                   {reinterpret_cast<const char*>(bytes.data()), bytes.size()});
  }
  RowBuilder& DateTimeNaive(int64_t nanos_since_epoch) {
    return PutFixed64(Tag::kDateTimeNaive, static_cast<uint64_t>(nanos_since_epoch));
  }
  RowBuilder& DateTimeUtc(int64_t nanos_since_epoch) {
    return PutFixed64(Tag::kDateTimeUtc, static_cast<uint64_t>(nanos_since_epoch));
  }
  RowBuilder& Duration(int64_t nanos) {
    return PutFixed64(Tag::kDuration, static_cast<uint64_t>(nanos));
  }
  /// Parses JSON text and stores its canonical form. Fails (and stores nothing) on invalid
  /// JSON.
  absl::Status Json(std::string_view text);
  /// Stores JSON text already in canonical form (from `CanonicalJson` or another row).
  RowBuilder& CanonicalJsonText(std::string_view canonical) {
    return PutText(Tag::kJson, canonical);
  }
  RowBuilder& Error() {
    buffer_[0] |= kRowHasErrors;
    return PutTag(Tag::kError);
  }
  /// Stores an object handle. The builder holds no reference: the caller keeps the handle
  /// alive until `Finish()`, whose row retains it.
  RowBuilder& Object(ObjectRef* ref);
  /// `shape` gives the dimensions; `elements` holds their product of values, row-major.
  RowBuilder& IntArray(std::span<const uint64_t> shape, std::span<const int64_t> elements);
  RowBuilder& FloatArray(std::span<const uint64_t> shape, std::span<const double> elements);
  RowBuilder& BeginTuple();
  RowBuilder& EndTuple();
  /// Appends an already encoded value (from any row); handles inside it are retained by the
  /// finished row, as for `Object`.
  RowBuilder& Value(ValueView value);

  /// The row built so far; resets the builder. It is an error to finish with an open tuple.
  Row Finish();

 private:
  RowBuilder& PutTag(Tag tag) {
    ++count_;
    buffer_.push_back(static_cast<uint8_t>(tag));
    return *this;
  }
  RowBuilder& PutFixed64(Tag tag, uint64_t bits) {
    ++count_;
    size_t at = buffer_.size();
    buffer_.resize(at + 9);
    buffer_[at] = static_cast<uint8_t>(tag);
    std::memcpy(buffer_.data() + at + 1, &bits, 8);
    return *this;
  }
  RowBuilder& PutText(Tag tag, std::string_view text);
  template <typename T>
  RowBuilder& PutArray(Tag tag, std::span<const uint64_t> shape, std::span<const T> elements);

  struct OpenTuple {
    size_t tag_offset;
    uint64_t count_before;  // values in the enclosing sequence before this tuple
  };
  absl::InlinedVector<uint8_t, 64> buffer_;
  absl::InlinedVector<OpenTuple, 4> open_tuples_;
  uint64_t count_ = 0;  // values in the innermost open sequence
};

/// Canonical JSON: parsed and re-written with object fields in the order written (a repeated
/// key keeps its first place and its last value), no whitespace, integers as integers, floats
/// in shortest round-trip form always carrying a fraction or exponent, -0.0 as 0.0. Json
/// values compare by this text, so field order is part of a value. Fails with
/// InvalidArgument on invalid JSON or numbers outside the 64-bit range.
absl::StatusOr<std::string> CanonicalJson(std::string_view text);

/// Appends `text` as a JSON string literal (quoted, with JSON escapes).
void AppendJsonString(std::string& out, std::string_view text);

/// Python's repr of a float: the shortest text that reads back the same, always with a
/// fraction or an exponent ("1.0", "1e+16", "nan", "inf").
std::string FloatRepr(double v);

}  // namespace deltaflow::value
