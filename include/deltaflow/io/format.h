// Formatters: one per format, shared by every connector.
//
// A value leaves deltaflow as text in exactly one way per format, as Pathway writes it:
// - DSV (CSV): every field quoted (quotes doubled), None as `None`, floats in shortest
//   round-trip form (`NaN`, `inf`), bytes in base64, date-times in ISO 8601 with nine
//   fraction digits (`+0000` for UTC ones), durations in nanoseconds, tuples and arrays as
//   JSON; a change is its cells followed by `time` and `diff`.
// - JSON: None and non-finite floats as `null`, bytes in base64, date-times as strings,
//   durations in nanoseconds, tuples as arrays, Json values as they are; a change is an object
//   of its columns followed by `"diff"` and `"time"`.
// - Plaintext (a message header, a plaintext payload): a string as it is, other values as in
//   DSV without the quotes.
// - Raw: bytes as they are, a string's UTF-8 bytes.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "deltaflow/io/source.h"
#include "deltaflow/value/row.h"

namespace deltaflow::io {

/// `bytes` in standard base64 (with padding).
void AppendBase64(std::span<const uint8_t> bytes, std::string& out);

/// A value as plain text (a DSV cell before quoting, a message header).
void AppendText(value::ValueView v, std::string& out);

/// A value as JSON.
void AppendJson(value::ValueView v, std::string& out);

/// `text` as a quoted DSV field (the quote character doubled inside).
void AppendQuotedField(std::string_view text, std::string& out);

/// The DSV header of a change stream: the column names, then "time" and "diff".
void AppendDsvHeader(const std::vector<std::string>& names, char delimiter, std::string& out);

/// One change as a DSV record (no newline): the row's cells, then `time` and `diff`.
void AppendDsvChange(value::RowView row, Time time, int64_t diff, char delimiter, std::string& out);

/// One change as a JSON object: the row's cells by column name, then "diff" and "time".
void AppendJsonChange(const std::vector<std::string>& names, value::RowView row, Time time, int64_t diff,
                      std::string& out);

}  // namespace deltaflow::io
