#include "deltaflow/connectors/sqlite/sqlite.h"

#include <sqlite3.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "deltaflow/io/format.h"
#include "fmt/format.h"
#include "simdjson.h"

namespace deltaflow::connectors::sqlite {

namespace {

using value::Key;
using value::Row;
using value::RowBuilder;
using value::ValueKind;
using value::ValueView;

std::string QuoteIdentifier(std::string_view name) {
  std::string out = "\"";
  for (char c : name) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

struct Database {
  sqlite3* db = nullptr;
  Database() = default;
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;
  ~Database() {
    if (db != nullptr) sqlite3_close_v2(db);
  }
};

struct Statement {
  sqlite3_stmt* stmt = nullptr;
  Statement() = default;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  ~Statement() {
    if (stmt != nullptr) sqlite3_finalize(stmt);
  }
};

absl::Status Failed(sqlite3* db, const std::string& name, std::string_view what) {
  return absl::InvalidArgumentError(fmt::format("{}: {}: {}", name, what, sqlite3_errmsg(db)));
}

absl::Status Prepare(sqlite3* db, const std::string& sql, Statement& out, const std::string& name) {
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &out.stmt, nullptr) != SQLITE_OK) return Failed(db, name, "cannot prepare a statement");
  return absl::OkStatus();
}

absl::Status Exec(sqlite3* db, const std::string& sql, const std::string& name) {
  char* error = nullptr;
  if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error) != SQLITE_OK) {
    std::string message = error != nullptr ? error : "unknown error";
    sqlite3_free(error);
    return absl::InvalidArgumentError(fmt::format("{}: {}", name, message));
  }
  return absl::OkStatus();
}

// A JSON value as a deltaflow value: arrays as tuples, objects as Json.
absl::Status AppendJsonAsValue(simdjson::dom::element e, RowBuilder& out) {
  switch (e.type()) {
    case simdjson::dom::element_type::ARRAY:
      out.BeginTuple();
      for (simdjson::dom::element item : e.get_array()) {
        if (absl::Status s = AppendJsonAsValue(item, out); !s.ok()) return s;
      }
      out.EndTuple();
      return absl::OkStatus();
    case simdjson::dom::element_type::INT64:
      out.Int(e.get_int64().value());
      return absl::OkStatus();
    case simdjson::dom::element_type::UINT64:
      out.Float(static_cast<double>(e.get_uint64().value()));
      return absl::OkStatus();
    case simdjson::dom::element_type::DOUBLE:
      out.Float(e.get_double().value());
      return absl::OkStatus();
    case simdjson::dom::element_type::STRING:
      out.String(std::string_view(e.get_string().value()));
      return absl::OkStatus();
    case simdjson::dom::element_type::BOOL:
      out.Bool(e.get_bool().value());
      return absl::OkStatus();
    case simdjson::dom::element_type::NULL_VALUE:
      out.Null();
      return absl::OkStatus();
    case simdjson::dom::element_type::OBJECT:
      return out.Json(simdjson::minify(e));
  }
  return absl::OkStatus();
}

// ISO 8601 text ("2024-01-02T03:04:05.5", a space instead of the T, an offset for UTC).
bool ParseIsoTime(std::string text, bool utc, int64_t& nanos) {
  if (text.size() > 10 && text[10] == ' ') text[10] = 'T';
  absl::Time t;
  std::string error;
  if (utc) {
    if (!text.empty() && text.back() == 'Z') text = text.substr(0, text.size() - 1) + "+00:00";
    size_t sign = text.find_last_of("+-");
    if (sign == std::string::npos || sign < 19) return false;
    std::string offset = text.substr(sign);
    if (offset.size() == 5) offset = offset.substr(0, 3) + ":" + offset.substr(3);  // +0000
    if (offset.size() == 3) offset += ":00";
    text = text.substr(0, sign) + offset;
    if (!absl::ParseTime("%Y-%m-%dT%H:%M:%E*S%Ez", text, &t, &error)) return false;
  } else if (text.size() == 10) {
    if (!absl::ParseTime("%Y-%m-%d", text, absl::UTCTimeZone(), &t, &error)) return false;
  } else if (!absl::ParseTime("%Y-%m-%dT%H:%M:%E*S", text, absl::UTCTimeZone(), &t, &error)) {
    return false;
  }
  nanos = absl::ToUnixNanos(t);
  return true;
}

std::string Lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Names as a list: ["a", "b"].
std::string NameList(const std::vector<std::string>& names) {
  std::vector<std::string> quoted;
  for (const std::string& n : names) quoted.push_back("\"" + n + "\"");
  return "[" + absl::StrJoin(quoted, ", ") + "]";
}

// One column of a table as SQLite describes it (PRAGMA table_xinfo).
struct TableColumn {
  std::string name;
  bool not_null = false;
  bool has_default = false;
  int pk = 0;          // position in the primary key (0: not in it)
  bool generated = false;
};

// A path that is a directory, or a file that is not a SQLite database, is refused with the reason.
absl::Status CheckDatabasePath(const std::string& path, const std::string& name) {
  struct stat st;
  if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
    return absl::InvalidArgumentError(fmt::format("{}: '{}' is an existing directory, not a SQLite database file", name, path));
  }
  return absl::OkStatus();
}

// The columns of `table`, and what kind of object it is ("table", "view", "index", "trigger" or "" when absent).
absl::Status Describe(sqlite3* db, const std::string& table, const std::string& name, std::string& kind,
                      std::vector<TableColumn>& columns) {
  Statement version;
  if (sqlite3_prepare_v2(db, "PRAGMA schema_version", -1, &version.stmt, nullptr) != SQLITE_OK ||
      sqlite3_step(version.stmt) != SQLITE_ROW) {
    return absl::InvalidArgumentError(
        fmt::format("{}: the specified file is not a valid SQLite 3 database: {}", name, sqlite3_errmsg(db)));
  }
  Statement type;
  if (absl::Status s = Prepare(db, "SELECT type FROM sqlite_master WHERE name = ?1 COLLATE NOCASE", type, name); !s.ok()) return s;
  sqlite3_bind_text(type.stmt, 1, table.c_str(), -1, SQLITE_TRANSIENT);
  kind = sqlite3_step(type.stmt) == SQLITE_ROW ? reinterpret_cast<const char*>(sqlite3_column_text(type.stmt, 0)) : "";
  columns.clear();
  Statement info;
  if (absl::Status s = Prepare(db, fmt::format("PRAGMA table_xinfo({})", QuoteIdentifier(table)), info, name); !s.ok()) return s;
  while (sqlite3_step(info.stmt) == SQLITE_ROW) {
    TableColumn c;
    c.name = reinterpret_cast<const char*>(sqlite3_column_text(info.stmt, 1));
    c.not_null = sqlite3_column_int(info.stmt, 3) != 0;
    c.has_default = sqlite3_column_type(info.stmt, 4) != SQLITE_NULL;
    c.pk = sqlite3_column_int(info.stmt, 5);
    int hidden = sqlite3_column_int(info.stmt, 6);
    c.generated = hidden == 2 || hidden == 3;
    if (hidden == 1) continue;  // a virtual table's hidden column
    columns.push_back(std::move(c));
  }
  return absl::OkStatus();
}

// The column of `columns` named `name`, case-insensitively as SQLite compares names.
const TableColumn* FindColumn(const std::vector<TableColumn>& columns, std::string_view name) {
  std::string lower = Lower(name);
  for (const TableColumn& c : columns) {
    if (Lower(c.name) == lower) return &c;
  }
  return nullptr;
}

// Whether `key` (lowercase names) is the table's primary key or one of its full unique indexes.
bool HasKeyConstraint(sqlite3* db, const std::string& table, const std::vector<TableColumn>& columns,
                      std::vector<std::string> key) {
  std::sort(key.begin(), key.end());
  std::vector<std::string> primary;
  for (const TableColumn& c : columns) {
    if (c.pk > 0) primary.push_back(Lower(c.name));
  }
  std::sort(primary.begin(), primary.end());
  if (primary == key) return true;
  Statement list;
  if (sqlite3_prepare_v2(db, fmt::format("PRAGMA index_list({})", QuoteIdentifier(table)).c_str(), -1, &list.stmt, nullptr) != SQLITE_OK) {
    return false;
  }
  while (sqlite3_step(list.stmt) == SQLITE_ROW) {
    bool unique = sqlite3_column_int(list.stmt, 2) != 0;
    bool partial = sqlite3_column_int(list.stmt, 4) != 0;
    if (!unique || partial) continue;
    std::string index = reinterpret_cast<const char*>(sqlite3_column_text(list.stmt, 1));
    Statement info;
    if (sqlite3_prepare_v2(db, fmt::format("PRAGMA index_info({})", QuoteIdentifier(index)).c_str(), -1, &info.stmt, nullptr) != SQLITE_OK) {
      continue;
    }
    std::vector<std::string> names;
    bool expression = false;
    while (sqlite3_step(info.stmt) == SQLITE_ROW) {
      if (sqlite3_column_type(info.stmt, 2) == SQLITE_NULL) {
        expression = true;  // an index on an expression
      } else {
        names.push_back(Lower(reinterpret_cast<const char*>(sqlite3_column_text(info.stmt, 2))));
      }
    }
    std::sort(names.begin(), names.end());
    if (!expression && names == key) return true;
  }
  return false;
}

const char* StorageName(int type) {
  switch (type) {
    case SQLITE_INTEGER:
      return "INTEGER";
    case SQLITE_FLOAT:
      return "REAL";
    case SQLITE_TEXT:
      return "TEXT";
    case SQLITE_BLOB:
      return "BLOB";
    default:
      return "NULL";
  }
}

}  // namespace

// ---- Source ----

struct SqliteSource::Reader {
  explicit Reader(const SqliteSourceOptions& options) : o(options) {}
  const SqliteSourceOptions& o;
  std::thread thread;
  std::mutex mutex;
  std::condition_variable cv;
  bool stop = false;
  std::deque<std::vector<io::Change>> ready;
  std::vector<io::SourceError> errors;
  absl::Status failure;
  std::function<void()> wakeup;

  absl::flat_hash_map<Key, Row> live;
  simdjson::dom::parser json;

  void Notify() {
    std::function<void()> w;
    {
      std::lock_guard<std::mutex> lock(mutex);
      w = wakeup;
    }
    if (w) w();
  }

  // One column's value of the current result row into `out`; fails with the reason.
  absl::Status Convert(sqlite3_stmt* stmt, int index, const ReadColumn& column, RowBuilder& out) {
    int type = sqlite3_column_type(stmt, index);
    auto mismatch = [&] {
      return absl::InvalidArgumentError(
          fmt::format("column {} cannot hold the {} value {}", column.name, StorageName(type),
                      type == SQLITE_BLOB ? std::string("(bytes)")
                                          : std::string(reinterpret_cast<const char*>(sqlite3_column_text(stmt, index)))));
    };
    if (type == SQLITE_NULL) {
      if (!column.optional && column.type != ReadType::kAny) {
        return absl::InvalidArgumentError(fmt::format("column {} is not optional, but holds NULL", column.name));
      }
      out.Null();
      return absl::OkStatus();
    }
    std::string_view text;
    if (type == SQLITE_TEXT) {
      text = std::string_view(reinterpret_cast<const char*>(sqlite3_column_text(stmt, index)),
                              static_cast<size_t>(sqlite3_column_bytes(stmt, index)));
    }
    ReadType kind = column.type;
    if (kind == ReadType::kAny) {
      kind = type == SQLITE_INTEGER ? ReadType::kInt
             : type == SQLITE_FLOAT ? ReadType::kFloat
             : type == SQLITE_BLOB  ? ReadType::kBytes
                                    : ReadType::kString;
    }
    switch (kind) {
      case ReadType::kInt:
        if (type != SQLITE_INTEGER) return mismatch();
        out.Int(sqlite3_column_int64(stmt, index));
        return absl::OkStatus();
      case ReadType::kFloat:
        if (type != SQLITE_INTEGER && type != SQLITE_FLOAT) return mismatch();
        out.Float(sqlite3_column_double(stmt, index));
        return absl::OkStatus();
      case ReadType::kBool: {
        if (type == SQLITE_INTEGER) {
          int64_t v = sqlite3_column_int64(stmt, index);
          if (v != 0 && v != 1) return mismatch();
          out.Bool(v == 1);
          return absl::OkStatus();
        }
        if (type != SQLITE_TEXT) return mismatch();
        std::string lower(text);
        for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        for (const char* yes : {"true", "yes", "on", "1", "t", "y"}) {
          if (lower == yes) {
            out.Bool(true);
            return absl::OkStatus();
          }
        }
        for (const char* no : {"false", "no", "off", "0", "f", "n"}) {
          if (lower == no) {
            out.Bool(false);
            return absl::OkStatus();
          }
        }
        return mismatch();
      }
      case ReadType::kString:
        if (type != SQLITE_TEXT) return mismatch();
        out.String(text);
        return absl::OkStatus();
      case ReadType::kBytes: {
        if (type != SQLITE_BLOB && type != SQLITE_TEXT) return mismatch();
        const auto* p = static_cast<const uint8_t*>(type == SQLITE_BLOB ? sqlite3_column_blob(stmt, index)
                                                                         : static_cast<const void*>(text.data()));
        out.Bytes({p, static_cast<size_t>(sqlite3_column_bytes(stmt, index))});
        return absl::OkStatus();
      }
      case ReadType::kJson:
        if (type != SQLITE_TEXT) return mismatch();
        if (!out.Json(text).ok()) return mismatch();
        return absl::OkStatus();
      case ReadType::kPointer: {
        if (type != SQLITE_TEXT) return mismatch();
        auto key = Key::Parse(text);
        if (!key.ok()) return mismatch();
        out.Pointer(*key);
        return absl::OkStatus();
      }
      case ReadType::kDateTimeNaive:
      case ReadType::kDateTimeUtc: {
        int64_t nanos = 0;
        if (type != SQLITE_TEXT || !ParseIsoTime(std::string(text), kind == ReadType::kDateTimeUtc, nanos)) return mismatch();
        if (kind == ReadType::kDateTimeUtc) {
          out.DateTimeUtc(nanos);
        } else {
          out.DateTimeNaive(nanos);
        }
        return absl::OkStatus();
      }
      case ReadType::kDuration:
        if (type != SQLITE_INTEGER) return mismatch();
        out.Duration(sqlite3_column_int64(stmt, index));
        return absl::OkStatus();
      case ReadType::kList: {
        if (type != SQLITE_TEXT) return mismatch();
        simdjson::padded_string padded(text);
        simdjson::dom::element e;
        if (json.parse(padded).get(e) != simdjson::SUCCESS || !e.is_array()) return mismatch();
        return AppendJsonAsValue(e, out);
      }
      case ReadType::kAny:
        break;
    }
    return mismatch();
  }

  absl::Status ReadTable(sqlite3* db, const std::string& sql, bool by_rowid) {
    Statement select;
    if (absl::Status s = Prepare(db, sql, select, o.name); !s.ok()) return s;
    absl::flat_hash_map<Key, Row> now;
    RowBuilder builder, keys;
    int rc;
    while ((rc = sqlite3_step(select.stmt)) == SQLITE_ROW) {
      builder.Clear();
      absl::Status status;
      for (size_t i = 0; i < o.columns.size() && status.ok(); ++i) {
        status = Convert(select.stmt, static_cast<int>(i), o.columns[i], builder);
      }
      if (!status.ok()) {
        std::lock_guard<std::mutex> lock(mutex);
        errors.push_back({o.name, fmt::format("table {}: {}", o.table, std::string(status.message()))});
        continue;
      }
      Row row = builder.Finish();
      keys.Clear();
      if (by_rowid) {
        keys.Int(sqlite3_column_int64(select.stmt, static_cast<int>(o.columns.size())));
      } else {
        for (int k : o.primary_key) keys.Value(row.view()[static_cast<size_t>(k)]);
      }
      now.insert_or_assign(value::IdFromValues(keys.Finish().values()), std::move(row));
    }
    if (rc != SQLITE_DONE) return Failed(db, o.name, fmt::format("reading the table {} failed", o.table));
    // The difference with what was read before: retractions first.
    std::vector<io::Change> changes;
    auto same = [](const Row& a, const Row& b) {
      auto x = a.view().bytes(), y = b.view().bytes();
      return x.size() == y.size() && std::equal(x.begin(), x.end(), y.begin());
    };
    for (const auto& [id, row] : live) {
      auto it = now.find(id);
      if (it == now.end() || !same(it->second, row)) changes.push_back({id, row, -1});
    }
    for (const auto& [id, row] : now) {
      auto it = live.find(id);
      if (it == live.end() || !same(it->second, row)) changes.push_back({id, row, 1});
    }
    live = std::move(now);
    bool any = !changes.empty();
    if (any) {
      std::lock_guard<std::mutex> lock(mutex);
      ready.push_back(std::move(changes));
    }
    if (any || !errors.empty()) Notify();
    return absl::OkStatus();
  }

  // Opens the database and checks the table; gives the SELECT of the schema's columns.
  absl::Status Setup(Database& database, std::string& sql, bool& by_rowid) {
    if (absl::Status s = CheckDatabasePath(o.path, o.name); !s.ok()) return s;
    if (sqlite3_open_v2(o.path.c_str(), &database.db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
      return absl::InvalidArgumentError(fmt::format("{}: cannot open the SQLite database {}: {}", o.name, o.path,
                                                    database.db ? sqlite3_errmsg(database.db) : "out of memory"));
    }
    sqlite3_busy_timeout(database.db, 30000);
    std::string kind;
    std::vector<TableColumn> present;
    if (absl::Status s = Describe(database.db, o.table, o.name, kind, present); !s.ok()) return s;
    std::vector<std::string> missing, names;
    for (const ReadColumn& c : o.columns) {
      names.push_back(QuoteIdentifier(c.name));
      if (FindColumn(present, c.name) == nullptr) missing.push_back(c.name);
    }
    if (!missing.empty()) {
      return absl::InvalidArgumentError(fmt::format(
          "{}: pw.Schema references column(s) {} that do not exist in SQLite table \"{}\"", o.name, NameList(missing),
          o.table));
    }
    by_rowid = o.primary_key.empty();
    if (by_rowid) {
      for (const char* alias : {"rowid", "_rowid_", "oid"}) {
        if (const TableColumn* c = FindColumn(present, alias)) {
          return absl::InvalidArgumentError(fmt::format(
              "{}: SQLite table \"{}\" has a user column \"{}\" that shadows SQLite's implicit rowid alias, so rows "
              "cannot be identified by rowid. Declare primary-key columns in your pw.Schema.",
              o.name, o.table, c->name));
        }
      }
      names.push_back("_rowid_");
    } else if (kind == "table") {
      std::vector<std::string> key;
      for (int k : o.primary_key) key.push_back(Lower(o.columns[static_cast<size_t>(k)].name));
      if (!HasKeyConstraint(database.db, o.table, present, key)) {
        std::vector<std::string> key_names;
        for (int k : o.primary_key) key_names.push_back(o.columns[static_cast<size_t>(k)].name);
        return absl::InvalidArgumentError(fmt::format(
            "{}: primary_key columns {} declared in pw.Schema do not correspond to any UNIQUE or PRIMARY KEY constraint "
            "on SQLite table \"{}\"", o.name, NameList(key_names), o.table));
      }
    }
    sql = fmt::format("SELECT {} FROM {}", absl::StrJoin(names, ","), QuoteIdentifier(o.table));
    Statement probe;
    if (by_rowid && sqlite3_prepare_v2(database.db, sql.c_str(), -1, &probe.stmt, nullptr) != SQLITE_OK) {
      return absl::InvalidArgumentError(fmt::format(
          "{}: SQLite object \"{}\" does not expose an implicit `_rowid_` column (typical for `WITHOUT ROWID` tables "
          "and views). Declare primary key columns in your pw.Schema so the reader can identify rows.",
          o.name, o.table));
    }
    return absl::OkStatus();
  }

  void Run() {
    Database database;
    std::string sql;
    bool by_rowid = false;
    absl::Status status = Setup(database, sql, by_rowid);
    int64_t seen_version = -1;
    Statement version;
    if (status.ok()) status = sqlite::Prepare(database.db, "PRAGMA main.data_version", version, o.name);
    while (status.ok()) {
      // data_version changes when another connection commits.
      sqlite3_reset(version.stmt);
      if (sqlite3_step(version.stmt) != SQLITE_ROW) {
        status = Failed(database.db, o.name, "cannot read the data version");
        break;
      }
      int64_t v = sqlite3_column_int64(version.stmt, 0);
      if (v != seen_version) {
        seen_version = v;
        sqlite3_reset(version.stmt);
        status = ReadTable(database.db, sql, by_rowid);
        if (!status.ok()) break;
      }
      std::unique_lock<std::mutex> lock(mutex);
      if (cv.wait_for(lock, std::chrono::milliseconds(o.poll_interval_ms), [&] { return stop; })) break;
    }
    if (!status.ok()) {
      {
        std::lock_guard<std::mutex> lock(mutex);
        failure = status;
      }
      Notify();
    }
  }
};

SqliteSource::SqliteSource(SqliteSourceOptions options) : options_(std::move(options)) {}
SqliteSource::~SqliteSource() { Close(); }

absl::StatusOr<std::unique_ptr<SqliteSource>> SqliteSource::Make(SqliteSourceOptions options) {
  if (options.columns.empty()) return absl::InvalidArgumentError(fmt::format("{}: the schema has no columns", options.name));
  auto source = std::unique_ptr<SqliteSource>(new SqliteSource(std::move(options)));
  source->reader_ = std::make_unique<Reader>(source->options_);
  return source;
}

absl::Status SqliteSource::Open(const io::SourceContext& context) {
  (void)context;
  Reader* r = reader_.get();
  r->thread = std::thread([r] { r->Run(); });
  return absl::OkStatus();
}

absl::StatusOr<io::PollResult> SqliteSource::Poll(std::vector<io::Change>& out, size_t max_rows) {
  (void)max_rows;
  std::lock_guard<std::mutex> lock(reader_->mutex);
  if (!reader_->ready.empty()) {
    for (io::Change& c : reader_->ready.front()) out.push_back(std::move(c));
    reader_->ready.pop_front();
    return io::PollResult::kMore;
  }
  if (!reader_->failure.ok()) return reader_->failure;
  return io::PollResult::kMore;
}

void SqliteSource::DrainErrors(std::vector<io::SourceError>& errors) {
  std::lock_guard<std::mutex> lock(reader_->mutex);
  for (io::SourceError& e : reader_->errors) errors.push_back(std::move(e));
  reader_->errors.clear();
}

void SqliteSource::Restore(const std::vector<io::Change>& batch) {
  io::RestoreRowsById(batch, reader_->live);
}

void SqliteSource::SetWakeup(std::function<void()> wakeup) {
  std::lock_guard<std::mutex> lock(reader_->mutex);
  reader_->wakeup = std::move(wakeup);
}

void SqliteSource::Close() {
  if (!reader_) return;
  {
    std::lock_guard<std::mutex> lock(reader_->mutex);
    reader_->stop = true;
  }
  reader_->cv.notify_all();
  if (reader_->thread.joinable()) reader_->thread.join();
}

// ---- Sink ----

struct SqliteSink::Db {
  Database database;
  Statement insert;  // stream: a change; snapshot: an upsert
  Statement remove;  // snapshot: a deletion by key
  std::string text;  // scratch
};

SqliteSink::SqliteSink(SqliteSinkOptions options) : options_(std::move(options)), db_(std::make_unique<Db>()) {}
SqliteSink::~SqliteSink() = default;

absl::StatusOr<std::unique_ptr<SqliteSink>> SqliteSink::Make(SqliteSinkOptions options) {
  const std::string name = options.name;
  bool snapshot = options.table_type == TableType::kSnapshot;
  if (snapshot && options.primary_key.empty()) {
    return absl::InvalidArgumentError(fmt::format("{}: primary_key must be specified for the snapshot table type", name));
  }
  auto sink = std::unique_ptr<SqliteSink>(new SqliteSink(std::move(options)));
  const SqliteSinkOptions& o = sink->options_;
  sqlite3*& db = sink->db_->database.db;
  if (absl::Status s = CheckDatabasePath(o.path, name); !s.ok()) return s;
  if (sqlite3_open_v2(o.path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) != SQLITE_OK) {
    return absl::InvalidArgumentError(
        fmt::format("{}: cannot open the SQLite database {}: {}", name, o.path, db ? sqlite3_errmsg(db) : "out of memory"));
  }
  sqlite3_busy_timeout(db, 30000);
  std::string table = QuoteIdentifier(o.table);
  std::vector<std::string> quoted, defs, keys, key_names;
  for (const SqliteColumn& c : o.columns) {
    quoted.push_back(QuoteIdentifier(c.name));
    defs.push_back(quoted.back() + " " + c.sql_type);
  }
  for (int k : o.primary_key) {
    keys.push_back(quoted[static_cast<size_t>(k)]);
    key_names.push_back(o.columns[static_cast<size_t>(k)].name);
  }
  if (!snapshot) {
    defs.push_back("time BIGINT NOT NULL");
    defs.push_back("diff SMALLINT NOT NULL");
  } else {
    defs.push_back("PRIMARY KEY (" + absl::StrJoin(keys, ", ") + ")");
  }
  std::string kind;
  std::vector<TableColumn> present;
  if (absl::Status s = Describe(db, o.table, name, kind, present); !s.ok()) return s;
  if (!kind.empty() && kind != "table") {
    if (kind == "view") {
      return absl::InvalidArgumentError(fmt::format(
          "{}: destination \"{}\" is a SQLite view, which SQLite treats as read-only; write to a table", name, o.table));
    }
    return absl::InvalidArgumentError(
        fmt::format("{}: destination \"{}\" is a SQLite {} in the database, not a table", name, o.table, kind));
  }
  if (o.init_mode == InitMode::kReplace) {
    if (absl::Status s = Exec(db, "DROP TABLE IF EXISTS " + table, name); !s.ok()) return s;
  }
  if (o.init_mode != InitMode::kDefault) {
    if (absl::Status s = Exec(db, fmt::format("CREATE TABLE IF NOT EXISTS {} ({})", table, absl::StrJoin(defs, ", ")), name); !s.ok()) return s;
  }
  if (absl::Status s = Describe(db, o.table, name, kind, present); !s.ok()) return s;
  if (present.empty()) {
    return absl::NotFoundError(fmt::format(
        "{}: destination table \"{}\" does not exist in the SQLite database (init_mode=\"default\" writes to an "
        "existing table; \"create_if_not_exists\" or \"replace\" create it)", name, o.table));
  }
  std::vector<std::string> missing, generated, optional_not_null;
  for (const SqliteColumn& c : o.columns) {
    const TableColumn* t = FindColumn(present, c.name);
    if (t == nullptr) {
      missing.push_back(c.name);
    } else if (t->generated) {
      generated.push_back(c.name);
    } else if (c.optional && t->not_null) {
      optional_not_null.push_back(c.name);
    }
  }
  if (!snapshot) {
    for (const char* meta : {"time", "diff"}) {
      if (FindColumn(present, meta) == nullptr) missing.push_back(meta);
    }
  }
  if (!missing.empty()) {
    return absl::InvalidArgumentError(fmt::format(
        "{}: destination table \"{}\" is missing required column(s) {} that the writer plans to INSERT into", name,
        o.table, NameList(missing)));
  }
  if (!generated.empty()) {
    return absl::InvalidArgumentError(fmt::format(
        "{}: destination table \"{}\" has generated column(s) {} (`GENERATED ALWAYS AS ...`) that pw.Schema also names; "
        "SQLite computes them", name, o.table, NameList(generated)));
  }
  // Columns the writer leaves out must be nullable or have a default (a rowid alias fills itself).
  std::vector<std::string> unfilled;
  int primary_columns = 0;
  for (const TableColumn& t : present) primary_columns += t.pk > 0 ? 1 : 0;
  for (const TableColumn& t : present) {
    bool written = std::any_of(o.columns.begin(), o.columns.end(), [&](const SqliteColumn& c) { return Lower(c.name) == Lower(t.name); }) ||
                   (!snapshot && (Lower(t.name) == "time" || Lower(t.name) == "diff"));
    if (written || t.generated || t.has_default) continue;
    bool rowid_alias = t.pk == 1 && primary_columns == 1 && kind == "table";
    if (rowid_alias) {
      Statement probe;  // a rowid alias exists only in tables with a rowid
      rowid_alias = sqlite3_prepare_v2(db, fmt::format("SELECT _rowid_ FROM {}", table).c_str(), -1, &probe.stmt, nullptr) == SQLITE_OK;
    }
    if ((t.not_null || t.pk > 0) && !rowid_alias) unfilled.push_back(t.name);
  }
  if (!unfilled.empty()) {
    return absl::InvalidArgumentError(fmt::format(
        "{}: destination table \"{}\" has NOT NULL column(s) {} without a DEFAULT value that pw.Schema doesn't provide",
        name, o.table, NameList(unfilled)));
  }
  if (!optional_not_null.empty()) {
    return absl::InvalidArgumentError(fmt::format(
        "{}: pw.Schema declares column(s) {} as Optional but the destination table \"{}\" marks them NOT NULL", name,
        NameList(optional_not_null), o.table));
  }
  if (snapshot) {
    std::vector<std::string> key;
    for (const std::string& k : key_names) key.push_back(Lower(k));
    if (!HasKeyConstraint(db, o.table, present, key)) {
      return absl::InvalidArgumentError(fmt::format(
          "{}: primary_key columns {} do not correspond to any UNIQUE or PRIMARY KEY constraint on SQLite table \"{}\". "
          "Add it in SQLite, or let the writer create the table with init_mode=\"replace\"",
          name, NameList(key_names), o.table));
    }
  }
  std::vector<std::string> marks(o.columns.size() + (snapshot ? 0 : 2), "?");
  std::string columns = absl::StrJoin(quoted, ", ") + (snapshot ? "" : ", time, diff");
  std::string insert = fmt::format("INSERT INTO {} ({}) VALUES ({})", table, columns, absl::StrJoin(marks, ", "));
  if (snapshot) {
    std::vector<std::string> updates, where;
    for (size_t c = 0; c < o.columns.size(); ++c) {
      if (std::find(o.primary_key.begin(), o.primary_key.end(), static_cast<int>(c)) == o.primary_key.end()) {
        updates.push_back(fmt::format("{0} = excluded.{0}", quoted[c]));
      }
    }
    insert += fmt::format(" ON CONFLICT ({}) DO {}", absl::StrJoin(keys, ", "),
                          updates.empty() ? "NOTHING" : "UPDATE SET " + absl::StrJoin(updates, ", "));
    for (size_t i = 0; i < keys.size(); ++i) where.push_back(keys[i] + " = ?");
    if (absl::Status s = sqlite::Prepare(db, fmt::format("DELETE FROM {} WHERE {}", table, absl::StrJoin(where, " AND ")),
                                         sink->db_->remove, name);
        !s.ok()) {
      return absl::InvalidArgumentError(fmt::format("{} (the table needs a primary key or unique constraint on the key)", std::string(s.message())));
    }
  }
  if (absl::Status s = sqlite::Prepare(db, insert, sink->db_->insert, name); !s.ok()) {
    if (snapshot) {
      return absl::InvalidArgumentError(fmt::format(
          "{}: the SQLite table {} has no primary key or unique constraint on ({}), the primary key of the snapshot: {}",
          name, o.table, absl::StrJoin(keys, ", "), sqlite3_errmsg(db)));
    }
    return s;
  }
  return sink;
}

namespace {

// Binds `v` as Pathway writes values to SQLite.
absl::Status Bind(sqlite3_stmt* stmt, int index, ValueView v, std::string& text) {
  switch (v.kind()) {
    case ValueKind::kNull:
      sqlite3_bind_null(stmt, index);
      return absl::OkStatus();
    case ValueKind::kBool:
      sqlite3_bind_int64(stmt, index, v.AsBool() ? 1 : 0);
      return absl::OkStatus();
    case ValueKind::kInt:
      sqlite3_bind_int64(stmt, index, v.AsInt());
      return absl::OkStatus();
    case ValueKind::kFloat:
      sqlite3_bind_double(stmt, index, v.AsFloat());
      return absl::OkStatus();
    case ValueKind::kDuration:
      sqlite3_bind_int64(stmt, index, v.AsNanos());
      return absl::OkStatus();
    case ValueKind::kBytes:
      sqlite3_bind_blob64(stmt, index, v.AsBytes().data(), v.AsBytes().size(), SQLITE_TRANSIENT);
      return absl::OkStatus();
    case ValueKind::kString:
      sqlite3_bind_text64(stmt, index, v.AsString().data(), v.AsString().size(), SQLITE_TRANSIENT, SQLITE_UTF8);
      return absl::OkStatus();
    case ValueKind::kJson:
    case ValueKind::kTuple:
    case ValueKind::kIntArray:
    case ValueKind::kFloatArray:
      text.clear();
      io::AppendJson(v, text);
      sqlite3_bind_text64(stmt, index, text.data(), text.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
      return absl::OkStatus();
    case ValueKind::kKey:
    case ValueKind::kDateTimeNaive:
    case ValueKind::kDateTimeUtc:
      text.clear();
      io::AppendText(v, text);
      sqlite3_bind_text64(stmt, index, text.data(), text.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
      return absl::OkStatus();
    case ValueKind::kError:
      return absl::InvalidArgumentError("an Error value cannot be written");
    case ValueKind::kObject:
      return absl::InvalidArgumentError("a Python object cannot be written to SQLite");
  }
  return absl::InternalError("unknown value kind");
}

}  // namespace

absl::Status SqliteSink::Write(io::Time time, std::vector<io::Change>& changes) {
  const SqliteSinkOptions& o = options_;
  sqlite3* db = db_->database.db;
  bool snapshot = o.table_type == TableType::kSnapshot;
  if (absl::Status s = Exec(db, "BEGIN IMMEDIATE", o.name); !s.ok()) return s;
  auto fail = [&](absl::Status status) {
    (void)Exec(db, "ROLLBACK", o.name);
    return status;
  };
  for (const io::Change& change : changes) {
    value::RowView row = change.row.view();
    int64_t sign = change.diff < 0 ? -1 : 1;
    int64_t repeat = snapshot ? 1 : change.diff * sign;
    sqlite3_stmt* stmt = snapshot && change.diff < 0 ? db_->remove.stmt : db_->insert.stmt;
    for (int64_t n = 0; n < repeat; ++n) {
      sqlite3_reset(stmt);
      int index = 1;
      if (stmt == db_->remove.stmt) {
        for (int k : o.primary_key) {
          if (absl::Status s = Bind(stmt, index++, row[static_cast<size_t>(k)], db_->text); !s.ok()) {
            return fail(absl::InvalidArgumentError(fmt::format("{}: column {}: {}", o.name, o.columns[static_cast<size_t>(k)].name, std::string(s.message()))));
          }
        }
      } else {
        for (size_t c = 0; c < o.columns.size(); ++c) {
          if (absl::Status s = Bind(stmt, index++, row[c], db_->text); !s.ok()) {
            return fail(absl::InvalidArgumentError(fmt::format("{}: column {}: {}", o.name, o.columns[c].name, std::string(s.message()))));
          }
        }
        if (!snapshot) {
          sqlite3_bind_int64(stmt, index++, static_cast<int64_t>(time));
          sqlite3_bind_int64(stmt, index++, sign);
        }
      }
      if (sqlite3_step(stmt) != SQLITE_DONE) {
        return fail(Failed(db, o.name, fmt::format("writing to the SQLite table {} failed", o.table)));
      }
    }
  }
  if (absl::Status s = Exec(db, "COMMIT", o.name); !s.ok()) return fail(s);
  return absl::OkStatus();
}

}  // namespace deltaflow::connectors::sqlite
