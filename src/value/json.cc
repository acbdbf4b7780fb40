// Canonical JSON text for Json values (see `CanonicalJson` in row.h).
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "deltaflow/value/row.h"
#include "fmt/format.h"
#include "simdjson.h"

namespace deltaflow::value {

void AppendJsonString(std::string& out, std::string_view text) {
  out.push_back('"');
  for (char c : text) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          out += fmt::format("\\u{:04x}", static_cast<unsigned char>(c));
        } else {
          out.push_back(c);
        }
    }
  }
  out.push_back('"');
}

namespace {

void AppendJsonDouble(std::string& out, double v) {
  if (v == 0.0) v = 0.0;  // -0.0 becomes 0.0
  std::string text = fmt::format("{}", v);
  if (text.find_first_of(".e") == std::string::npos) text += ".0";
  out += text;
}

void Emit(simdjson::dom::element element, std::string& out) {
  switch (element.type()) {
    case simdjson::dom::element_type::ARRAY: {
      out.push_back('[');
      bool first = true;
      for (simdjson::dom::element child : simdjson::dom::array(element)) {
        if (!first) out.push_back(',');
        first = false;
        Emit(child, out);
      }
      out.push_back(']');
      return;
    }
    case simdjson::dom::element_type::OBJECT: {
      // Fields keep the order they were written in; a repeated key keeps its first place
      // and takes its last value.
      std::vector<std::pair<std::string_view, simdjson::dom::element>> fields;
      absl::flat_hash_map<std::string_view, size_t> place;  // filled for large objects only
      constexpr size_t kLinearScan = 16;
      for (simdjson::dom::key_value_pair field : simdjson::dom::object(element)) {
        size_t at = fields.size();
        if (fields.size() <= kLinearScan) {
          for (size_t i = 0; i < fields.size(); ++i) {
            if (fields[i].first == field.key) at = i;
          }
          if (at == fields.size() && fields.size() == kLinearScan) {
            for (size_t i = 0; i < fields.size(); ++i) place.emplace(fields[i].first, i);
          }
        } else if (auto it = place.find(field.key); it != place.end()) {
          at = it->second;
        }
        if (at == fields.size()) {
          if (!place.empty()) place.emplace(field.key, at);
          fields.emplace_back(field.key, field.value);
        } else {
          fields[at].second = field.value;
        }
      }
      out.push_back('{');
      for (size_t i = 0; i < fields.size(); ++i) {
        if (i > 0) out.push_back(',');
        AppendJsonString(out, fields[i].first);
        out.push_back(':');
        Emit(fields[i].second, out);
      }
      out.push_back('}');
      return;
    }
    case simdjson::dom::element_type::INT64:
      out += fmt::format("{}", int64_t(element));
      return;
    case simdjson::dom::element_type::UINT64:
      out += fmt::format("{}", uint64_t(element));
      return;
    case simdjson::dom::element_type::DOUBLE:
      AppendJsonDouble(out, double(element));
      return;
    case simdjson::dom::element_type::STRING:
      AppendJsonString(out, std::string_view(element));
      return;
    case simdjson::dom::element_type::BOOL:
      out += bool(element) ? "true" : "false";
      return;
    case simdjson::dom::element_type::NULL_VALUE:
      out += "null";
      return;
  }
}

}  // namespace

absl::StatusOr<std::string> CanonicalJson(std::string_view text) {
  thread_local simdjson::dom::parser parser;
  simdjson::padded_string padded(text);
  simdjson::dom::element root;
  if (auto error = parser.parse(padded).get(root); error) {
    return absl::InvalidArgumentError(
        fmt::format("invalid JSON: {}", simdjson::error_message(error)));
  }
  std::string out;
  out.reserve(text.size());
  Emit(root, out);
  return out;
}

}  // namespace deltaflow::value
