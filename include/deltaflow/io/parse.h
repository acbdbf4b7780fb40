// Parsers: one per format, shared by every connector.
//
// A connector hands a parser the bytes of one record (a line of a file, a Kafka message's
// payload) and gets the cells of a row typed by the source's columns, or an error that says
// which column failed and why. Formats: DSV (CSV and other delimiters, RFC 4180 quoting),
// JSON (one object per record, through simdjson, with optional JSON Pointer paths per
// column), plaintext (UTF-8 text, validated) and raw bytes. Text that is not valid UTF-8 never
// becomes a string value: it is a parse error of that record.
//
// Parsers keep scratch space between calls and are not thread-safe: use one per thread.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "deltaflow/value/row.h"

namespace deltaflow::io {

/// The type a column's text is parsed into.
enum class ColumnType : uint8_t { kAny, kInt, kFloat, kBool, kString, kBytes, kJson, kPointer };

/// One column of a source's schema.
struct Column {
  std::string name;
  ColumnType type = ColumnType::kAny;
  bool optional = false;
  std::optional<value::Row> default_value;  // a one-value row
};

/// Whether `text` is valid UTF-8 (no overlong forms, no surrogates, nothing past U+10FFFF).
bool IsValidUtf8(std::string_view text);

/// Parses `text` as a value of `column` into `builder` (a DSV cell, a message key). An empty
/// text is None where the column allows it, else its default. Fails with the reason, naming
/// the column.
absl::Status ParseCell(std::string_view text, const Column& column, value::RowBuilder& builder);

/// How DSV records are split into fields.
struct DsvDialect {
  char delimiter = ',';
  char quote = '"';     // '\0': no quoting
  char escape = '\0';   // makes the next character literal ('\0': none)
  char comment = '\0';  // a record starting with it is skipped ('\0': none)
};

/// Where the first complete record of `data` ends: the index after its newline (a newline
/// inside quotes does not end a record), or npos when `data` holds no complete record.
/// `quoted_at_end` tells whether `data` ends inside a quoted field.
size_t DsvRecordEnd(std::string_view data, const DsvDialect& dialect, bool* quoted_at_end = nullptr);

/// Splits one DSV record into fields (quotes removed, doubled quotes and escapes resolved).
/// Fails on an unterminated quoted field.
absl::Status SplitDsv(std::string_view record, const DsvDialect& dialect, std::vector<std::string>& fields);

/// DSV records into rows. With a header, the first record of a stream (a file) names the
/// fields and columns are found by name; without one, fields are taken in column order.
class DsvParser {
 public:
  DsvParser(std::vector<Column> columns, DsvDialect dialect, bool has_header);

  enum class Outcome : uint8_t { kRow, kSkipped };
  /// Parses one record (without its newline) of a stream whose header so far is `header`
  /// (empty before the first record; the parser fills it). `kSkipped` for the header, a blank
  /// line or a comment; `kRow` with the row's cells appended to `builder`.
  absl::StatusOr<Outcome> Parse(std::string_view record, std::vector<std::string>& header,
                                value::RowBuilder& builder);

 private:
  std::vector<Column> columns_;
  DsvDialect dialect_;
  bool has_header_;
  std::vector<std::string> fields_;
};

/// JSON objects into rows: each column is the object's field of that name, or the value at
/// the column's JSON Pointer (RFC 6901) when one is given.
class JsonParser {
 public:
  JsonParser(std::vector<Column> columns, std::map<std::string, std::string> paths);
  ~JsonParser();
  JsonParser(JsonParser&&) noexcept;
  JsonParser& operator=(JsonParser&&) noexcept;

  /// Parses `text` (one JSON object) and appends one cell per column to `builder`. A missing
  /// field takes the column's default, else fails.
  absl::Status Parse(std::string_view text, value::RowBuilder& builder);

  /// Parses `text` into `builder` as one Json value (canonical form).
  static absl::Status ParseJsonValue(std::string_view text, value::RowBuilder& builder);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// Plaintext: `bytes` as one string value; fails when they are not valid UTF-8.
absl::Status ParsePlaintext(std::string_view bytes, value::RowBuilder& builder);

/// Raw: `bytes` as one bytes value.
void ParseRaw(std::string_view bytes, value::RowBuilder& builder);

}  // namespace deltaflow::io
