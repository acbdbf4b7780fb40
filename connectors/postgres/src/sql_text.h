// PostgreSQL text forms shared by the connector's sink and source: quoted identifiers and
// literals, and values in COPY's text format as the target column's type reads them.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "deltaflow/connectors/postgres/postgres_source.h"
#include "deltaflow/value/row.h"

namespace deltaflow::connectors::postgres::internal {

/// `name` as a quoted SQL identifier ("a ""b""").
std::string QuoteIdentifier(std::string_view name);

/// `text` as a quoted SQL string literal ('it''s').
std::string QuoteLiteral(std::string_view text);

/// `"schema"."table"`.
std::string QualifiedName(std::string_view schema, std::string_view table);

/// What a target column reads, where a value has more than one text form.
enum class Target : uint8_t {
  kOther,        // the value's own text form (TEXT, numbers, BOOLEAN, JSON, UUID, ...)
  kInteger,      // SMALLINT, INTEGER, BIGINT: a duration in microseconds
  kInterval,     // a duration as an interval
  kTime,         // a duration as a time of day
  kDate,         // a date-time's date
  kVector,       // pgvector's vector/halfvec: "[1,2,3]"
};

/// The target kind of a column of PostgreSQL type `udt_name` (information_schema's name:
/// "int8", "interval", "_float8", "vector").
Target TargetOf(std::string_view udt_name);

/// Appends `v` as one field of COPY's text format (escaped; None as \N). Fails, naming
/// `column`, for a value PostgreSQL has no form for (an Error, a Python object).
absl::Status AppendCopyField(value::ValueView v, Target target, std::string_view column, std::string& out);

/// Appends `v` as a SQL literal ('text', quotes doubled; NULL) in the same text form.
absl::Status AppendSqlLiteral(value::ValueView v, Target target, std::string_view column, std::string& out);

/// Reads `text`, PostgreSQL's text form of a value of type `pg_type` (pg_type.typname:
/// "int8", "timestamptz", "_text" for text[]), as a value of `type` (`element`: a list's
/// elements) into `out`. Fails with the reason.
absl::Status AppendTextValue(std::string_view text, ReadType type, ReadType element, std::string_view pg_type,
                             value::RowBuilder& out);

/// Splits one line of COPY's text format into fields, undoing its escapes; a NULL field is
/// reported in `nulls`.
void SplitCopyLine(std::string_view line, std::vector<std::string>& fields, std::vector<bool>& nulls);

}  // namespace deltaflow::connectors::postgres::internal
