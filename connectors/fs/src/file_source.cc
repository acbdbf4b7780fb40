#include "deltaflow/connectors/fs/file_source.h"

#include <fnmatch.h>
#include <pwd.h>
#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "fmt/format.h"
#include "simdjson.h"

namespace deltaflow::connectors::fs {

namespace {

using value::Key;
using value::Row;
using value::RowBuilder;

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

// Splits one CSV record (RFC 4180: quoted fields may hold delimiters, doubled quotes and
// newlines). Returns false on an unterminated quote.
bool SplitCsv(std::string_view record, char delimiter, char quote, char escape, std::vector<std::string>& fields) {
  fields.clear();
  std::string field;
  bool quoted = false;
  bool was_quoted = false;
  for (size_t i = 0; i < record.size(); ++i) {
    char c = record[i];
    if (escape != '\0' && c == escape && i + 1 < record.size()) {
      field += record[++i];  // the escaped character, taken literally
      continue;
    }
    if (quoted) {
      if (c == quote) {
        if (i + 1 < record.size() && record[i + 1] == quote) {
          field += quote;
          ++i;
        } else {
          quoted = false;
        }
      } else {
        field += c;
      }
    } else if (c == quote && field.empty()) {
      quoted = true;
      was_quoted = true;
    } else if (c == delimiter) {
      fields.push_back(field);
      field.clear();
      was_quoted = false;
    } else if (c != '\r' || i + 1 != record.size()) {
      field += c;
    }
  }
  if (quoted) return false;
  (void)was_quoted;
  fields.push_back(field);
  return true;
}

// Where the next complete record ends in `data` (for CSV, newlines inside quotes do not end
// it): the index after its newline, or npos when no complete record is there.
size_t RecordEnd(std::string_view data, bool csv, char quote, char escape) {
  bool quoted = false;
  for (size_t i = 0; i < data.size(); ++i) {
    char c = data[i];
    if (csv && escape != '\0' && c == escape && i + 1 < data.size() && data[i + 1] != '\n') {
      ++i;  // an escaped character never starts or ends a quoted field
      continue;
    }
    if (csv && c == quote) quoted = !quoted;
    if (c == '\n' && !quoted) return i + 1;
  }
  return std::string_view::npos;
}

void AppendJsonValue(simdjson::dom::element e, const Column& column, RowBuilder& b, absl::Status& status) {
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
  switch (column.type) {
    case ColumnType::kInt: {
      int64_t i = 0;
      if (e.get_int64().get(i) != simdjson::SUCCESS) {
        status = absl::InvalidArgumentError(fmt::format("column {} expects an int, got {}", column.name, simdjson::minify(e)));
        return;
      }
      b.Int(i);
      return;
    }
    case ColumnType::kFloat: {
      double d = 0;
      if (e.get_double().get(d) != simdjson::SUCCESS) {
        int64_t i = 0;
        if (e.get_int64().get(i) != simdjson::SUCCESS) {
          status = absl::InvalidArgumentError(fmt::format("column {} expects a float, got {}", column.name, simdjson::minify(e)));
          return;
        }
        d = static_cast<double>(i);
      }
      b.Float(d);
      return;
    }
    case ColumnType::kBool: {
      bool v = false;
      if (e.get_bool().get(v) != simdjson::SUCCESS) {
        status = absl::InvalidArgumentError(fmt::format("column {} expects a bool, got {}", column.name, simdjson::minify(e)));
        return;
      }
      b.Bool(v);
      return;
    }
    case ColumnType::kString: {
      std::string_view v;
      if (e.get_string().get(v) != simdjson::SUCCESS) {
        status = absl::InvalidArgumentError(fmt::format("column {} expects a string, got {}", column.name, simdjson::minify(e)));
        return;
      }
      b.String(v);
      return;
    }
    case ColumnType::kJson: {
      absl::Status s = b.Json(simdjson::minify(e));
      if (!s.ok()) status = s;
      return;
    }
    default: {
      // Any: the natural value for the JSON type.
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

absl::Status ParseCell(std::string_view text, const Column& column, RowBuilder& b) {
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
      std::string_view t = text;
      const char* begin = t.data() + (!t.empty() && t[0] == '+');
      auto [p, ec] = std::from_chars(begin, t.data() + t.size(), v);
      if (ec != std::errc() || p != t.data() + t.size() || t.empty()) {
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
      if (t.empty() || end != t.c_str() + t.size() || hex || std::isspace(static_cast<unsigned char>(t[0]))) {
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
      if (!s.ok()) return absl::InvalidArgumentError(fmt::format("invalid Json for column {}: {}", column.name, std::string(s.message())));
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
      b.String(text);
      return absl::OkStatus();
  }
}

absl::StatusOr<std::unique_ptr<FileSource>> FileSource::Make(FileSourceOptions options) {
  std::error_code ec;
  bool glob = options.path.find_first_of("*?[") != std::string::npos &&
              std::filesystem::is_directory(std::filesystem::path(options.path).parent_path(), ec);
  if (!std::filesystem::exists(options.path, ec) && !options.streaming && !glob) {
    return absl::NotFoundError(fmt::format("{}: no such file or directory: {}", options.name, options.path));
  }
  for (int k : options.primary_key) {
    if (k < 0 || k >= static_cast<int>(options.columns.size())) {
      return absl::InvalidArgumentError(fmt::format("{}: primary key column {} out of range", options.name, k));
    }
  }
  return std::unique_ptr<FileSource>(new FileSource(std::move(options)));
}

void FileSource::Error(const std::string& path, uint64_t line, std::string reason) {
  errors_.push_back({options_.name, fmt::format("{}:{}: {}", path, line, reason), Key(), ""});
}

void FileSource::DrainErrors(std::vector<table::ErrorLogEntry>& errors) {
  for (auto& e : errors_) errors.push_back(std::move(e));
  errors_.clear();
}

bool FileSource::Poll(std::vector<table::TableUpdate>& out) {
  if (done_) return false;
  if (!options_.streaming) {
    // Static: every file present at the start, each read whole as its own commit.
    if (!static_paths_) static_paths_ = ListPaths();
    if (static_next_ < static_paths_->size()) ReadPath((*static_paths_)[static_next_++], out);
    done_ = static_next_ >= static_paths_->size();
    return !done_;
  }
  int64_t now = absl::GetCurrentTimeNanos();
  if (now - last_scan_ns_ < static_cast<int64_t>(options_.refresh_ms) * 1000000) return true;
  last_scan_ns_ = now;
  Scan(out);
  return true;
}

std::vector<std::string> FileSource::ListPaths() const {
  namespace stdfs = std::filesystem;
  std::vector<std::string> paths;
  std::error_code ec;
  std::string root = options_.path;
  std::string pattern = options_.glob;
  if (!stdfs::exists(root, ec) && root.find_first_of("*?[") != std::string::npos) {
    // A path with a glob in its last part ("dir/*.csv").
    stdfs::path p(root);
    pattern = p.filename().string();
    root = p.parent_path().string();
  }
  if (stdfs::is_directory(root, ec)) {
    // Every file below the directory, in subdirectories too (as Pathway reads them).
    for (auto it = stdfs::recursive_directory_iterator(root, ec); !ec && it != stdfs::recursive_directory_iterator();
         it.increment(ec)) {
      if (!it->is_regular_file(ec)) continue;
      std::string name = it->path().filename().string();
      if (fnmatch(pattern.c_str(), name.c_str(), 0) != 0) continue;
      paths.push_back(it->path().string());
    }
  } else if (stdfs::exists(root, ec)) {
    paths.push_back(root);
  }
  std::sort(paths.begin(), paths.end());
  return paths;
}

void FileSource::Scan(std::vector<table::TableUpdate>& out) {
  std::vector<std::string> paths = ListPaths();
  // Deleted files: retract what they contributed.
  for (auto it = files_.begin(); it != files_.end();) {
    if (!std::binary_search(paths.begin(), paths.end(), it->first)) {
      Retract(it->second, out);
      it = files_.erase(it);
    } else {
      ++it;
    }
  }
  for (const std::string& path : paths) ReadPath(path, out);
}

void FileSource::ReadPath(const std::string& path, std::vector<table::TableUpdate>& out) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) return;
  uint64_t size = static_cast<uint64_t>(st.st_size);
  int64_t mtime = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  auto [it, inserted] = files_.try_emplace(path);
  FileState& state = it->second;
  if (!inserted && size == state.size && mtime == state.mtime_ns) return;
  bool whole_file = options_.format == Format::kPlaintextByFile || options_.format == Format::kBinary ||
                    options_.format == Format::kOnlyMetadata;
  bool rewritten = !inserted && (size < state.offset || whole_file || (size == state.size && mtime != state.mtime_ns) ||
                                 Fingerprint(path, state.offset) != state.fingerprint);
  if (rewritten) {
    // Rewritten: retract the old rows, read it again.
    Retract(state, out);
    state = FileState{};
  }
  state.size = size;
  state.mtime_ns = mtime;
  ReadFile(path, state, out);
}

void FileSource::Retract(FileState& state, std::vector<table::TableUpdate>& out) {
  for (auto& [key, row] : state.rows) {
    if (!options_.primary_key.empty()) {
      // Under a primary key the row may have been replaced since: retract only if current.
      auto it = by_key_.find(key);
      if (it == by_key_.end() || !(it->second.first == row)) continue;
      by_key_.erase(it);
    }
    out.push_back({key, row, 0, -1});
  }
  state.rows.clear();
}

void FileSource::Emit(const std::string& path, FileState& state, uint64_t line, Row row,
                      std::vector<table::TableUpdate>& out) {
  if (options_.with_metadata) {
    RowBuilder b;
    for (value::ValueView v : row.values()) b.Value(v);
    struct stat st {};
    int64_t created = 0;
    std::string owner;
    if (stat(path.c_str(), &st) == 0) {
      created = static_cast<int64_t>(st.st_ctim.tv_sec);
      if (struct passwd* pw = getpwuid(st.st_uid)) owner = pw->pw_name;
    }
    std::string meta = fmt::format(
        "{{\"created_at\":{},\"modified_at\":{},\"owner\":\"{}\",\"path\":\"{}\",\"seen_at\":{},\"size\":{}}}", created,
        state.mtime_ns / 1000000000, owner, path, absl::ToUnixSeconds(absl::Now()), state.size);
    if (!b.Json(meta).ok()) b.Null();
    row = b.Finish();
  }
  RowBuilder kb;
  if (!options_.primary_key.empty()) {
    for (int k : options_.primary_key) kb.Value(row[static_cast<size_t>(k)]);
  } else {
    kb.String(path).Int(static_cast<int64_t>(line));
  }
  Key key = value::IdFromValues(kb.Finish().values());
  if (!options_.primary_key.empty()) {
    auto it = by_key_.find(key);
    if (it != by_key_.end()) {
      // An upsert: the new row replaces the old one under the same key.
      out.push_back({key, it->second.first, 0, -1});
      it->second.first = row;
    } else {
      by_key_.emplace(key, std::pair(row, 1));
    }
  }
  // Only a watched file can be rewritten or deleted: only then keep what it contributed.
  if (options_.streaming) state.rows.emplace_back(key, row);
  out.push_back({key, std::move(row), 0, +1});
}

bool FileSource::ParseRecord(const std::string& path, FileState& state, uint64_t line, std::string_view record,
                             std::vector<table::TableUpdate>& out) {
  RowBuilder b;
  const auto& columns = options_.columns;
  switch (options_.format) {
    case Format::kCsv: {
      if (options_.comment != '\0' && !record.empty() && record[0] == options_.comment) return true;
      std::vector<std::string> fields;
      if (!SplitCsv(record, options_.delimiter, options_.quote, options_.escape, fields)) {
        Error(path, line, "unterminated quoted field");
        return false;
      }
      if (options_.has_header && state.header.empty()) {
        state.header = std::move(fields);
        return true;
      }
      if (fields.size() == 1 && fields[0].empty()) return true;  // a blank line
      for (const Column& c : columns) {
        std::optional<size_t> at;
        if (!state.header.empty()) {
          auto it = std::find(state.header.begin(), state.header.end(), c.name);
          if (it != state.header.end()) at = static_cast<size_t>(it - state.header.begin());
        } else {
          size_t index = static_cast<size_t>(&c - columns.data());
          if (index < fields.size()) at = index;
        }
        if (!at || *at >= fields.size()) {
          if (at && *at >= fields.size() && fields.size() < state.header.size()) {
            Error(path, line, fmt::format("expected {} fields, found {}", state.header.size(), fields.size()));
            return false;
          }
          if (c.default_value) {
            b.Value(c.default_value->view()[0]);
            continue;
          }
          if (c.optional) {
            b.Null();
            continue;
          }
          Error(path, line, fmt::format("no field for column {}", c.name));
          return false;
        }
        if (absl::Status s = ParseCell(fields[*at], c, b); !s.ok()) {
          Error(path, line, std::string(s.message()));
          return false;
        }
      }
      if (!state.header.empty() && fields.size() < state.header.size()) {
        Error(path, line, fmt::format("expected {} fields, found {}", state.header.size(), fields.size()));
        return false;
      }
      break;
    }
    case Format::kJson: {
      if (Trim(record).empty()) return true;
      simdjson::dom::parser parser;
      simdjson::padded_string padded(record);
      simdjson::dom::element doc;
      if (auto error = parser.parse(padded).get(doc); error != simdjson::SUCCESS) {
        Error(path, line, fmt::format("invalid JSON: {}", simdjson::error_message(error)));
        return false;
      }
      simdjson::dom::object object;
      if (doc.get_object().get(object) != simdjson::SUCCESS) {
        Error(path, line, "a JSON line must be an object");
        return false;
      }
      for (const Column& c : columns) {
        simdjson::dom::element field;
        auto path_it = options_.json_paths.find(c.name);
        bool found = path_it != options_.json_paths.end()
                         ? doc.at_pointer(path_it->second).get(field) == simdjson::SUCCESS
                         : object.at_key(c.name).get(field) == simdjson::SUCCESS;
        if (!found) {
          if (c.default_value) {
            b.Value(c.default_value->view()[0]);
            continue;
          }
          Error(path, line, fmt::format("missing field {}", c.name));
          return false;
        }
        absl::Status status;
        AppendJsonValue(field, c, b, status);
        if (!status.ok()) {
          Error(path, line, std::string(status.message()));
          return false;
        }
      }
      break;
    }
    case Format::kPlaintext: {
      std::string_view text = record;
      while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.remove_suffix(1);
      b.String(text);
      break;
    }
    case Format::kPlaintextByFile: {
      std::string_view text = record;
      if (!text.empty() && text.back() == '\n') text.remove_suffix(1);
      if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
      b.String(text);
      break;
    }
    case Format::kBinary:
      b.Bytes({reinterpret_cast<const uint8_t*>(record.data()), record.size()});
      break;
    case Format::kOnlyMetadata:
      break;
  }
  Emit(path, state, line, b.Finish(), out);
  return true;
}

void FileSource::ReadFile(const std::string& path, FileState& state, std::vector<table::TableUpdate>& out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    Error(path, 0, "cannot open the file");
    return;
  }
  in.seekg(static_cast<std::streamoff>(state.offset));
  std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  size_t bom = 0;
  if (state.offset == 0 && data.size() >= 3 && data.compare(0, 3, "\xEF\xBB\xBF") == 0) {
    bom = 3;  // a UTF-8 byte order mark is not data
  }
  bool whole_file = options_.format == Format::kPlaintextByFile || options_.format == Format::kBinary ||
                    options_.format == Format::kOnlyMetadata;
  if (whole_file) {
    ParseRecord(path, state, 1, data, out);
    state.offset = state.offset + data.size();
    return;
  }
  bool csv = options_.format == Format::kCsv;
  std::string_view rest = std::string_view(data).substr(bom);
  size_t consumed = bom;
  while (!rest.empty()) {
    size_t end = RecordEnd(rest, csv, options_.quote, options_.escape);
    if (end == std::string_view::npos) {
      // An incomplete last line: in streaming mode wait for the rest; in static mode it is
      // the file's last record.
      if (options_.streaming) break;
      end = rest.size();
    }
    std::string_view record = rest.substr(0, end);
    uint64_t lines = static_cast<uint64_t>(std::count(record.begin(), record.end(), '\n'));
    if (!record.empty() && record.back() == '\n') record.remove_suffix(1);
    ParseRecord(path, state, state.next_line, record, out);
    state.next_line += std::max<uint64_t>(lines, 1);
    consumed += end;
    rest.remove_prefix(end);
  }
  state.offset += consumed;
  if (options_.streaming) state.fingerprint = Fingerprint(path, state.offset);
}

uint64_t FileSource::Fingerprint(const std::string& path, uint64_t consumed) {
  constexpr uint64_t kEdge = 4096;
  std::ifstream in(path, std::ios::binary);
  std::string bytes(static_cast<size_t>(std::min(consumed, kEdge)), '\0');
  in.read(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (consumed > kEdge) {
    std::string tail(static_cast<size_t>(std::min(consumed - kEdge, kEdge)), '\0');
    in.seekg(static_cast<std::streamoff>(consumed - tail.size()));
    in.read(tail.data(), static_cast<std::streamsize>(tail.size()));
    bytes += tail;
  }
  if (!in && !in.eof()) return 0;
  return value::StableHash128(bytes.data(), bytes.size()).low();
}

}  // namespace deltaflow::connectors::fs
