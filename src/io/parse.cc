#include "deltaflow/io/parse.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdlib>

#include "fmt/format.h"
#include "simdjson.h"

namespace deltaflow::io {

namespace {

using value::Key;
using value::RowBuilder;

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

absl::Status NotUtf8(const Column& column) {
  return absl::InvalidArgumentError(fmt::format("column {} holds text that is not valid UTF-8", column.name));
}

// A value missing from a record: the column's default, or None where the column allows it.
bool AppendMissing(const Column& column, RowBuilder& b) {
  if (column.default_value) {
    b.Value(column.default_value->view()[0]);
    return true;
  }
  if (column.optional) {
    b.Null();
    return true;
  }
  return false;
}

void AppendJsonElement(simdjson::dom::element e, const Column& column, RowBuilder& b, absl::Status& status) {
  using simdjson::dom::element_type;
  if (e.is_null()) {
    // JSON null is None, accepted only where None is (an optional column, or Any).
    if (column.optional || column.type == ColumnType::kAny) {
      b.Null();
      return;
    }
    status = absl::InvalidArgumentError(fmt::format("column {} is not optional but the value is null", column.name));
    return;
  }
  auto mismatch = [&](std::string_view expected) {
    status = absl::InvalidArgumentError(
        fmt::format("column {} expects {}, got {}", column.name, expected, simdjson::minify(e)));
  };
  switch (column.type) {
    case ColumnType::kInt: {
      int64_t i = 0;
      if (e.get_int64().get(i) != simdjson::SUCCESS) return mismatch("an int");
      b.Int(i);
      return;
    }
    case ColumnType::kFloat: {
      double d = 0;
      if (e.get_double().get(d) != simdjson::SUCCESS) {
        int64_t i = 0;
        if (e.get_int64().get(i) != simdjson::SUCCESS) return mismatch("a float");
        d = static_cast<double>(i);
      }
      b.Float(d);
      return;
    }
    case ColumnType::kBool: {
      bool v = false;
      if (e.get_bool().get(v) != simdjson::SUCCESS) return mismatch("a bool");
      b.Bool(v);
      return;
    }
    case ColumnType::kString: {
      std::string_view v;
      if (e.get_string().get(v) != simdjson::SUCCESS) return mismatch("a string");
      b.String(v);
      return;
    }
    case ColumnType::kPointer: {
      std::string_view v;
      if (e.get_string().get(v) != simdjson::SUCCESS) return mismatch("a pointer");
      auto key = Key::Parse(Trim(v));
      if (!key.ok()) {
        status = absl::InvalidArgumentError(fmt::format("column {}: {}", column.name, std::string(key.status().message())));
        return;
      }
      b.Pointer(*key);
      return;
    }
    case ColumnType::kJson: {
      absl::Status s = b.Json(simdjson::minify(e));
      if (!s.ok()) status = s;
      return;
    }
    default: {
      // Any (and bytes, which JSON cannot hold): the natural value for the JSON type.
      switch (e.type()) {
        case element_type::INT64:
          b.Int(int64_t(e));
          return;
        case element_type::UINT64:
          b.Float(static_cast<double>(uint64_t(e)));
          return;
        case element_type::DOUBLE:
          b.Float(double(e));
          return;
        case element_type::BOOL:
          b.Bool(bool(e));
          return;
        case element_type::STRING:
          b.String(std::string_view(e));
          return;
        default: {
          absl::Status s = b.Json(simdjson::minify(e));
          if (!s.ok()) status = s;
          return;
        }
      }
    }
  }
}

}  // namespace

bool IsValidUtf8(std::string_view text) {
  return simdjson::validate_utf8(text.data(), text.size());
}

// Whether `text` stands for None in an optional column: "", "none" or "null" (any case), as
// Pathway reads them; "null" in a Json column is the Json value null.
bool IsNullText(std::string_view text, ColumnType type) {
  std::string_view t = Trim(text);
  if (t.size() > 4) return false;
  std::string lower(t);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower.empty() || lower == "none") return true;
  return lower == "null" && type != ColumnType::kJson;
}

absl::Status ParseCell(std::string_view text, const Column& column, RowBuilder& b) {
  if (column.optional && column.type != ColumnType::kString && column.type != ColumnType::kBytes &&
      column.type != ColumnType::kAny && IsNullText(text, column.type)) {
    b.Null();
    return absl::OkStatus();
  }
  if (text.empty() && column.type != ColumnType::kString && column.type != ColumnType::kBytes) {
    if (column.optional || column.type == ColumnType::kAny) {
      b.Null();
      return absl::OkStatus();
    }
    if (column.default_value) {
      b.Value(column.default_value->view()[0]);
      return absl::OkStatus();
    }
    return absl::InvalidArgumentError(fmt::format("column {} has no value", column.name));
  }
  switch (column.type) {
    case ColumnType::kInt: {
      int64_t v = 0;
      const char* begin = text.data() + (!text.empty() && text[0] == '+');
      auto [p, ec] = std::from_chars(begin, text.data() + text.size(), v);
      if (ec != std::errc() || p != text.data() + text.size()) {
        return absl::InvalidArgumentError(fmt::format("cannot parse \"{}\" as int for column {}", text, column.name));
      }
      b.Int(v);
      return absl::OkStatus();
    }
    case ColumnType::kFloat: {
      std::string t(text);
      char* end = nullptr;
      double v = std::strtod(t.c_str(), &end);
      bool hex = t.find_first_of("xX") != std::string::npos;
      if (end != t.c_str() + t.size() || hex || std::isspace(static_cast<unsigned char>(t[0]))) {
        return absl::InvalidArgumentError(fmt::format("cannot parse \"{}\" as float for column {}", text, column.name));
      }
      b.Float(v);
      return absl::OkStatus();
    }
    case ColumnType::kBool: {
      std::string t(Trim(text));
      for (char& c : t) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      if (t == "true" || t == "1" || t == "yes" || t == "on" || t == "t" || t == "y") {
        b.Bool(true);
      } else if (t == "false" || t == "0" || t == "no" || t == "off" || t == "f" || t == "n") {
        b.Bool(false);
      } else {
        return absl::InvalidArgumentError(fmt::format("cannot parse \"{}\" as bool for column {}", text, column.name));
      }
      return absl::OkStatus();
    }
    case ColumnType::kJson: {
      absl::Status s = b.Json(text);
      if (!s.ok()) {
        return absl::InvalidArgumentError(fmt::format("invalid Json for column {}: {}", column.name, std::string(s.message())));
      }
      return absl::OkStatus();
    }
    case ColumnType::kBytes:
      b.Bytes({reinterpret_cast<const uint8_t*>(text.data()), text.size()});
      return absl::OkStatus();
    case ColumnType::kPointer: {
      auto key = Key::Parse(Trim(text));
      if (!key.ok()) return key.status();
      b.Pointer(*key);
      return absl::OkStatus();
    }
    default:
      if (!IsValidUtf8(text)) return NotUtf8(column);
      b.String(text);
      return absl::OkStatus();
  }
}

// --- DSV ---------------------------------------------------------------------------------

size_t DsvRecordEnd(std::string_view data, const DsvDialect& dialect, bool* quoted_at_end) {
  bool quoted = false;
  for (size_t i = 0; i < data.size(); ++i) {
    char c = data[i];
    if (dialect.escape != '\0' && c == dialect.escape && i + 1 < data.size() && data[i + 1] != '\n') {
      ++i;  // an escaped character never starts or ends a quoted field
      continue;
    }
    if (dialect.quote != '\0' && c == dialect.quote) quoted = !quoted;
    if (c == '\n' && !quoted) {
      if (quoted_at_end != nullptr) *quoted_at_end = false;
      return i + 1;
    }
  }
  if (quoted_at_end != nullptr) *quoted_at_end = quoted;
  return std::string_view::npos;
}

absl::Status SplitDsv(std::string_view record, const DsvDialect& dialect, std::vector<std::string>& fields) {
  fields.clear();
  std::string field;
  bool quoted = false;
  for (size_t i = 0; i < record.size(); ++i) {
    char c = record[i];
    if (dialect.escape != '\0' && c == dialect.escape && i + 1 < record.size()) {
      field += record[++i];  // the escaped character, taken literally
      continue;
    }
    if (quoted) {
      if (c == dialect.quote) {
        if (i + 1 < record.size() && record[i + 1] == dialect.quote) {
          field += dialect.quote;
          ++i;
        } else {
          quoted = false;
        }
      } else {
        field += c;
      }
    } else if (dialect.quote != '\0' && c == dialect.quote && field.empty()) {
      quoted = true;
    } else if (c == dialect.delimiter) {
      fields.push_back(std::move(field));
      field.clear();
    } else if (c != '\r' || i + 1 != record.size()) {
      field += c;
    }
  }
  if (quoted) return absl::InvalidArgumentError("unterminated quoted field");
  fields.push_back(std::move(field));
  return absl::OkStatus();
}

DsvParser::DsvParser(std::vector<Column> columns, DsvDialect dialect, bool has_header)
    : columns_(std::move(columns)), dialect_(dialect), has_header_(has_header) {}

absl::StatusOr<DsvParser::Outcome> DsvParser::Parse(std::string_view record, std::vector<std::string>& header,
                                                    RowBuilder& b) {
  if (dialect_.comment != '\0' && !record.empty() && record[0] == dialect_.comment) return Outcome::kSkipped;
  if (absl::Status s = SplitDsv(record, dialect_, fields_); !s.ok()) return s;
  if (has_header_ && header.empty()) {
    header = std::move(fields_);
    fields_.clear();
    return Outcome::kSkipped;
  }
  if (fields_.size() == 1 && fields_[0].empty()) return Outcome::kSkipped;  // a blank line
  if (!header.empty() && fields_.size() < header.size()) {
    return absl::InvalidArgumentError(fmt::format("expected {} fields, found {}", header.size(), fields_.size()));
  }
  for (size_t index = 0; index < columns_.size(); ++index) {
    const Column& c = columns_[index];
    std::optional<size_t> at;
    if (!header.empty()) {
      auto it = std::find(header.begin(), header.end(), c.name);
      if (it != header.end()) at = static_cast<size_t>(it - header.begin());
    } else if (index < fields_.size()) {
      at = index;
    }
    if (!at) {
      if (AppendMissing(c, b)) continue;
      return absl::InvalidArgumentError(fmt::format("no field for column {}", c.name));
    }
    if (absl::Status s = ParseCell(fields_[*at], c, b); !s.ok()) return s;
  }
  return Outcome::kRow;
}

// --- JSON --------------------------------------------------------------------------------

struct JsonParser::Impl {
  std::vector<Column> columns;
  std::vector<std::string> paths;  // per column: a JSON Pointer, or empty for the field by name
  simdjson::dom::parser parser;
  simdjson::padded_string buffer;
};

JsonParser::JsonParser(std::vector<Column> columns, std::map<std::string, std::string> paths)
    : impl_(std::make_unique<Impl>()) {
  impl_->columns = std::move(columns);
  for (const Column& c : impl_->columns) {
    auto it = paths.find(c.name);
    impl_->paths.push_back(it == paths.end() ? std::string() : it->second);
  }
}

JsonParser::~JsonParser() = default;
JsonParser::JsonParser(JsonParser&&) noexcept = default;
JsonParser& JsonParser::operator=(JsonParser&&) noexcept = default;

absl::Status JsonParser::Parse(std::string_view text, RowBuilder& b) {
  Impl& m = *impl_;
  if (m.buffer.size() < text.size()) m.buffer = simdjson::padded_string(text.size() * 2);
  std::copy(text.begin(), text.end(), m.buffer.data());
  simdjson::dom::element doc;
  if (auto error = m.parser.parse(m.buffer.data(), text.size(), false).get(doc); error != simdjson::SUCCESS) {
    return absl::InvalidArgumentError(fmt::format("invalid JSON: {}", simdjson::error_message(error)));
  }
  simdjson::dom::object object;
  if (doc.get_object().get(object) != simdjson::SUCCESS) {
    return absl::InvalidArgumentError("a JSON record must be an object");
  }
  for (size_t i = 0; i < m.columns.size(); ++i) {
    const Column& c = m.columns[i];
    simdjson::dom::element field;
    bool found = m.paths[i].empty() ? object.at_key(c.name).get(field) == simdjson::SUCCESS
                                    : doc.at_pointer(m.paths[i]).get(field) == simdjson::SUCCESS;
    if (!found) {
      if (c.default_value) {
        b.Value(c.default_value->view()[0]);
        continue;
      }
      return absl::InvalidArgumentError(fmt::format("missing field {}", c.name));
    }
    absl::Status status;
    AppendJsonElement(field, c, b, status);
    if (!status.ok()) return status;
  }
  return absl::OkStatus();
}

absl::Status JsonParser::ParseJsonValue(std::string_view text, RowBuilder& b) {
  absl::Status s = b.Json(text);
  if (!s.ok()) return absl::InvalidArgumentError(fmt::format("invalid JSON: {}", std::string(s.message())));
  return absl::OkStatus();
}

// --- Plaintext and raw -------------------------------------------------------------------

absl::Status ParsePlaintext(std::string_view bytes, RowBuilder& b) {
  if (!IsValidUtf8(bytes)) return absl::InvalidArgumentError("the text is not valid UTF-8");
  b.String(bytes);
  return absl::OkStatus();
}

void ParseRaw(std::string_view bytes, RowBuilder& b) {
  b.Bytes({reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()});
}

}  // namespace deltaflow::io
