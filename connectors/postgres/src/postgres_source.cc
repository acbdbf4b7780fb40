#include "deltaflow/connectors/postgres/postgres_source.h"

#include <libpq-fe.h>
#include <sys/select.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_join.h"
#include "connection_internal.h"
#include "fmt/format.h"
#include "sql_text.h"

namespace deltaflow::connectors::postgres {

namespace {

using internal::QualifiedName;
using internal::QuoteIdentifier;
using internal::QuoteLiteral;
using value::Key;
using value::Row;
using value::RowBuilder;

// Snapshot rows per commit.
constexpr size_t kSnapshotChunk = 100000;
// How often the server hears where the pipeline stands, at least.
constexpr auto kStatusInterval = std::chrono::seconds(5);
// Microseconds between the Unix epoch and PostgreSQL's (2000-01-01).
constexpr int64_t kPostgresEpochMicros = 946684800LL * 1000000;

std::string FormatLsn(uint64_t lsn) { return fmt::format("{:X}/{:X}", lsn >> 32, lsn & 0xFFFFFFFF); }

bool ParseLsn(std::string_view text, uint64_t& lsn) {
  size_t slash = text.find('/');
  if (slash == std::string_view::npos) return false;
  uint64_t hi = 0, lo = 0;
  try {
    hi = std::stoull(std::string(text.substr(0, slash)), nullptr, 16);
    lo = std::stoull(std::string(text.substr(slash + 1)), nullptr, 16);
  } catch (...) {
    return false;
  }
  lsn = (hi << 32) | lo;
  return true;
}

struct Conn {
  PGconn* conn = nullptr;
  Conn() = default;
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;
  ~Conn() { Reset(); }
  void Reset() {
    if (conn != nullptr) PQfinish(conn);
    conn = nullptr;
  }
};

struct Result {
  PGresult* result = nullptr;
  explicit Result(PGresult* r) : result(r) {}
  Result(const Result&) = delete;
  Result& operator=(const Result&) = delete;
  ~Result() {
    if (result != nullptr) PQclear(result);
  }
};

// Big-endian readers for the replication protocol.
struct Cursor {
  const char* p;
  const char* end;
  bool ok = true;
  bool Has(size_t n) {
    if (static_cast<size_t>(end - p) < n) ok = false;
    return ok;
  }
  uint8_t U8() {
    if (!Has(1)) return 0;
    return static_cast<uint8_t>(*p++);
  }
  uint64_t UInt(int bytes) {
    if (!Has(static_cast<size_t>(bytes))) return 0;
    uint64_t v = 0;
    for (int i = 0; i < bytes; ++i) v = (v << 8) | static_cast<uint8_t>(*p++);
    return v;
  }
  std::string_view Bytes(size_t n) {
    if (!Has(n)) return {};
    std::string_view s(p, n);
    p += n;
    return s;
  }
  std::string_view CString() {
    const char* start = p;
    while (p < end && *p != '\0') ++p;
    if (p == end) {
      ok = false;
      return {};
    }
    return std::string_view(start, static_cast<size_t>(p++ - start));
  }
};

void PutU64(std::string& out, uint64_t v) {
  for (int i = 7; i >= 0; --i) out += static_cast<char>((v >> (8 * i)) & 0xFF);
}

// One column of a tuple the server sent: null, unchanged (a TOASTed value not resent) or text.
struct TupleValue {
  char kind = 'n';
  std::string_view text;
};

}  // namespace

// The reader thread and what it shares with the driving thread.
struct PostgresSource::Reader {
  explicit Reader(const PostgresSourceOptions& options) : o(options) {}

  const PostgresSourceOptions& o;
  std::string where;  // "schema.table"
  std::thread thread;
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> flush_lsn{0};  // what the run committed: confirmed to the server
  std::optional<uint64_t> resume_lsn;   // from Seek

  // Shared with the driving thread (under `mutex`).
  struct Unit {
    std::vector<io::Change> changes;
    uint64_t lsn = 0;
    bool partial = false;  // a chunk of the snapshot before its last: `lsn` is not reached yet
  };
  std::mutex mutex;
  std::deque<Unit> ready;
  std::vector<io::SourceError> errors;
  absl::Status failure;
  bool finished = false;
  std::function<void()> wakeup;

  // The reader thread's own.
  std::vector<std::string> pg_types;  // per schema column: pg_type.typname
  absl::flat_hash_map<std::string, int> schema_index;  // column name -> schema column
  std::vector<int> relation_to_schema;  // per column of the replicated relation
  uint32_t relid = 0;
  absl::flat_hash_map<Key, Row> live;  // the table's rows, by id
  // Per transaction: each id it touched, with its row before the transaction.
  absl::flat_hash_map<Key, std::optional<Row>> touched;
  std::vector<Key> touched_order;
  uint64_t received_lsn = 0;
  uint64_t sent_flush = 0;
  uint64_t pushed_lsn = 0;  // the end of the last transaction handed to the run
  uint64_t appended = 0;  // append-only ids
  RowBuilder builder;
  RowBuilder key_builder;
  RowBuilder old_key_builder;
  std::vector<TupleValue> tuple_, old_tuple_;
  std::vector<const TupleValue*> values_, old_values_;

  void Fail(absl::Status status) {
    std::function<void()> w;
    {
      std::lock_guard<std::mutex> lock(mutex);
      if (failure.ok()) failure = std::move(status);
      finished = true;
      w = wakeup;
    }
    if (w) w();
  }
  void Push(Unit unit) {
    pushed_lsn = std::max(pushed_lsn, unit.lsn);
    std::function<void()> w;
    {
      std::lock_guard<std::mutex> lock(mutex);
      ready.push_back(std::move(unit));
      w = wakeup;
    }
    if (w) w();
  }
  void Error(std::string message) {
    std::lock_guard<std::mutex> lock(mutex);
    errors.push_back({o.name, std::move(message)});
  }

  absl::Status Connect(Conn& c, bool replication) {
    const char* keys[] = {"dbname", replication ? "replication" : nullptr, nullptr};
    const char* values[] = {o.connection.c_str(), replication ? "database" : nullptr, nullptr};
    c.conn = PQconnectdbParams(keys, values, 1);
    if (PQstatus(c.conn) != CONNECTION_OK) {
      return absl::UnavailableError(
          fmt::format("{}: cannot connect to PostgreSQL: {}", o.name, internal::ServerMessage(PQerrorMessage(c.conn))));
    }
    // Text forms the reader knows: ISO dates in UTC, ISO 8601 intervals, exact floats.
    return Exec(c, "SET TimeZone = 'UTC'; SET DateStyle = 'ISO'; SET IntervalStyle = 'iso_8601'; SET extra_float_digits = 3");
  }

  absl::Status Exec(Conn& c, const std::string& sql, Result* out = nullptr) {
    PGresult* r = PQexec(c.conn, sql.c_str());
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK && st != PGRES_COPY_OUT && st != PGRES_COPY_BOTH) {
      std::string message = internal::ServerMessage(PQresultErrorMessage(r));
      PQclear(r);
      return absl::InvalidArgumentError(fmt::format("{}: {}", o.name, message));
    }
    if (out != nullptr) {
      if (out->result != nullptr) PQclear(out->result);
      out->result = r;
    } else {
      PQclear(r);
    }
    return absl::OkStatus();
  }

  // The table's columns and what the schema needs of them.
  absl::Status ReadCatalog(Conn& c) {
    Result rel(nullptr);
    std::string schema = o.schema.empty() ? "current_schema()" : QuoteLiteral(o.schema);
    if (auto s = Exec(c, fmt::format("SELECT c.oid, c.relreplident FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                                     "WHERE n.nspname = {} AND c.relname = {} AND c.relkind IN ('r', 'p')",
                                     schema, QuoteLiteral(o.table)),
                      &rel);
        !s.ok()) {
      return s;
    }
    if (PQntuples(rel.result) == 0) return absl::NotFoundError(fmt::format("{}: the table {} does not exist", o.name, where));
    std::string oid = PQgetvalue(rel.result, 0, 0);
    char identity = PQgetvalue(rel.result, 0, 1)[0];
    Result cols(nullptr);
    if (auto s = Exec(c, fmt::format("SELECT a.attname, t.typname FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid "
                                     "WHERE a.attrelid = {} AND a.attnum > 0 AND NOT a.attisdropped",
                                     oid),
                      &cols);
        !s.ok()) {
      return s;
    }
    absl::flat_hash_map<std::string, std::string> types;
    for (int i = 0; i < PQntuples(cols.result); ++i) types[PQgetvalue(cols.result, i, 0)] = PQgetvalue(cols.result, i, 1);
    std::vector<std::string> missing;
    pg_types.clear();
    for (size_t i = 0; i < o.columns.size(); ++i) {
      auto it = types.find(o.columns[i].name);
      if (it == types.end()) {
        missing.push_back(o.columns[i].name);
        pg_types.emplace_back();
      } else {
        pg_types.push_back(it->second);
      }
      schema_index[o.columns[i].name] = static_cast<int>(i);
    }
    if (!missing.empty()) {
      return absl::InvalidArgumentError(fmt::format("{}: the table {} has no column{} {}", o.name, where,
                                                    missing.size() > 1 ? "s" : "", absl::StrJoin(missing, ", ")));
    }
    if (o.streaming && !o.append_only && identity == 'n') {
      return absl::InvalidArgumentError(fmt::format(
          "{}: the table {} has REPLICA IDENTITY NOTHING: its updates and deletions cannot be followed", o.name, where));
    }
    return absl::OkStatus();
  }

  // The row of schema columns from a tuple (values by schema column); `old` fills values the
  // server did not resend. Returns nullopt (and reports why) for a row that does not read.
  std::optional<Row> BuildRow(const std::vector<const TupleValue*>& values, const Row* old, uint64_t lsn) {
    builder.Clear();
    for (size_t i = 0; i < o.columns.size(); ++i) {
      const ReadColumn& column = o.columns[i];
      const TupleValue* v = values[i];
      if (v == nullptr || v->kind == 'u') {
        if (v != nullptr && old != nullptr) {
          builder.Value(old->view()[i]);
          continue;
        }
        if (v == nullptr) {
          builder.Null();
          continue;
        }
        Error(fmt::format("table {}, column {}: an unchanged TOASTed value of an unknown row (LSN {})", where,
                          column.name, FormatLsn(lsn)));
        return std::nullopt;
      }
      if (v->kind == 'n') {
        if (!column.optional) {
          Error(fmt::format("table {}, column {}: NULL in a column that is not optional (LSN {})", where, column.name,
                            FormatLsn(lsn)));
          return std::nullopt;
        }
        builder.Null();
        continue;
      }
      absl::Status s = internal::AppendTextValue(v->text, column.type, column.element, pg_types[i], builder);
      if (!s.ok()) {
        Error(fmt::format("table {}, column {}: {}{}", where, column.name, std::string(s.message()),
                          lsn == 0 ? std::string(" (snapshot)") : fmt::format(" (LSN {})", FormatLsn(lsn))));
        return std::nullopt;
      }
    }
    return builder.Finish();
  }

  Key IdOf(const Row& row) {
    key_builder.Clear();
    if (o.append_only || o.primary_key.empty()) {
      key_builder.String(where).Int(static_cast<int64_t>(++appended));
    } else {
      for (int k : o.primary_key) key_builder.Value(row.view()[static_cast<size_t>(k)]);
    }
    return value::IdFromValues(key_builder.Finish().values());
  }

  // Changes of the current transaction: `touched` remembers each id's row before it.
  void Touch(const Key& id) {
    if (touched.contains(id)) return;
    auto it = live.find(id);
    touched.emplace(id, it == live.end() ? std::nullopt : std::optional<Row>(it->second));
    touched_order.push_back(id);
  }
  void Upsert(Key id, Row row) {
    Touch(id);
    live.insert_or_assign(id, std::move(row));
  }
  void Remove(const Key& id) {
    Touch(id);
    live.erase(id);
  }
  // The net changes of the transaction: per id, its row before retracted, its row after inserted.
  Unit TakeTransaction(uint64_t lsn) {
    Unit unit;
    unit.lsn = lsn;
    for (const Key& id : touched_order) {
      const std::optional<Row>& before = touched[id];
      auto after = live.find(id);
      if (before && after != live.end() && before->view().bytes().size() == after->second.view().bytes().size() &&
          std::equal(before->view().bytes().begin(), before->view().bytes().end(), after->second.view().bytes().begin())) {
        continue;
      }
      if (before) unit.changes.push_back({id, *before, -1});
    }
    for (const Key& id : touched_order) {
      const std::optional<Row>& before = touched[id];
      auto after = live.find(id);
      if (after == live.end()) continue;
      if (before && before->view().bytes().size() == after->second.view().bytes().size() &&
          std::equal(before->view().bytes().begin(), before->view().bytes().end(), after->second.view().bytes().begin())) {
        continue;
      }
      unit.changes.push_back({id, after->second, 1});
    }
    touched.clear();
    touched_order.clear();
    return unit;
  }

  // Reads the table (in the transaction open on `c`) as commits of at most kSnapshotChunk rows.
  absl::Status ReadSnapshot(Conn& c, uint64_t lsn) {
    std::vector<std::string> names;
    for (const ReadColumn& column : o.columns) names.push_back(QuoteIdentifier(column.name));
    std::string sql = fmt::format("COPY (SELECT {} FROM {}) TO STDOUT", absl::StrJoin(names, ","), QualifiedName(o.schema, o.table));
    if (auto s = Exec(c, sql); !s.ok()) return s;
    std::vector<std::string> fields;
    std::vector<bool> nulls;
    std::vector<TupleValue> tuple(o.columns.size());
    std::vector<const TupleValue*> values(o.columns.size());
    Unit unit;
    unit.lsn = lsn;
    unit.partial = true;
    // Rows restored from an earlier run (persistence without a slot to resume): the snapshot
    // is compared with them, and those the table no longer has are retracted at its end.
    bool compare = !live.empty();
    absl::flat_hash_set<Key> seen;
    while (true) {
      char* line = nullptr;
      int n = PQgetCopyData(c.conn, &line, 0);
      if (n == -1) break;
      if (n < 0) return absl::UnavailableError(fmt::format("{}: reading the snapshot failed: {}", o.name, PQerrorMessage(c.conn)));
      std::string_view text(line, static_cast<size_t>(n));
      if (!text.empty() && text.back() == '\n') text.remove_suffix(1);
      internal::SplitCopyLine(text, fields, nulls);
      PQfreemem(line);
      if (fields.size() != o.columns.size()) return absl::InternalError(fmt::format("{}: a snapshot row of {} fields", o.name, fields.size()));
      for (size_t i = 0; i < fields.size(); ++i) {
        tuple[i] = TupleValue{nulls[i] ? 'n' : 't', fields[i]};
        values[i] = &tuple[i];
      }
      std::optional<Row> row = BuildRow(values, nullptr, 0);
      if (!row) continue;
      Key id = IdOf(*row);
      if (compare) seen.insert(id);
      auto old = live.find(id);
      if (old != live.end()) {
        // Two rows with one key (the schema's key is not the table's): the later one wins.
        unit.changes.push_back({id, old->second, -1});
      }
      live.insert_or_assign(id, *row);
      unit.changes.push_back({id, std::move(*row), 1});
      if (unit.changes.size() >= kSnapshotChunk) {
        Push(std::move(unit));
        unit = Unit();
        unit.lsn = lsn;
        unit.partial = true;
      }
      if (stop.load()) return absl::OkStatus();
    }
    Result end(PQgetResult(c.conn));
    if (PQresultStatus(end.result) != PGRES_COMMAND_OK) {
      return absl::InvalidArgumentError(fmt::format("{}: {}", o.name, internal::ServerMessage(PQresultErrorMessage(end.result))));
    }
    while (PGresult* r = PQgetResult(c.conn)) PQclear(r);
    if (compare) {
      for (auto it = live.begin(); it != live.end();) {
        if (seen.contains(it->first)) {
          ++it;
          continue;
        }
        unit.changes.push_back({it->first, std::move(it->second), -1});
        live.erase(it++);
      }
    }
    unit.partial = false;
    Push(std::move(unit));  // also when empty: the snapshot's end
    return absl::OkStatus();
  }

  absl::Status SendStatus(Conn& c, bool force) {
    uint64_t flush = flush_lsn.load();
    if (!force && flush == sent_flush) return absl::OkStatus();
    std::string msg = "r";
    PutU64(msg, std::max(received_lsn, flush));
    PutU64(msg, flush);
    PutU64(msg, flush);
    auto now = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
    PutU64(msg, static_cast<uint64_t>(now - kPostgresEpochMicros));
    msg += '\0';
    if (PQputCopyData(c.conn, msg.data(), static_cast<int>(msg.size())) != 1 || PQflush(c.conn) != 0) {
      return absl::UnavailableError(fmt::format("{}: the replication connection failed: {}", o.name,
                                                internal::ServerMessage(PQerrorMessage(c.conn))));
    }
    sent_flush = flush;
    return absl::OkStatus();
  }

  // Reads a TupleData into `tuple`, by schema column.
  bool ReadTuple(Cursor& in, std::vector<TupleValue>& tuple, std::vector<const TupleValue*>& values) {
    size_t n = in.UInt(2);
    tuple.assign(n, TupleValue{});
    std::fill(values.begin(), values.end(), nullptr);
    for (size_t i = 0; i < n && in.ok; ++i) {
      char kind = static_cast<char>(in.U8());
      tuple[i].kind = kind;
      if (kind == 't' || kind == 'b') {
        size_t len = in.UInt(4);
        tuple[i].text = in.Bytes(len);
        tuple[i].kind = 't';
      }
    }
    for (size_t i = 0; i < n && i < relation_to_schema.size(); ++i) {
      if (relation_to_schema[i] >= 0) values[static_cast<size_t>(relation_to_schema[i])] = &tuple[i];
    }
    return in.ok;
  }

  // One pgoutput message. Returns false on a message that does not parse.
  absl::Status HandleMessage(Cursor in, uint64_t lsn) {
    char type = static_cast<char>(in.U8());
    // Scratch reused for every message: tuples as sent, and their values by schema column.
    std::vector<TupleValue>& tuple = tuple_;
    std::vector<TupleValue>& old_tuple = old_tuple_;
    std::vector<const TupleValue*>& values = values_;
    std::vector<const TupleValue*>& old_values = old_values_;
    values.resize(o.columns.size());
    old_values.resize(o.columns.size());
    switch (type) {
      case 'B':
        touched.clear();
        touched_order.clear();
        return absl::OkStatus();
      case 'C': {
        in.U8();
        in.UInt(8);
        uint64_t end = in.UInt(8);
        if (!touched_order.empty()) {
          Unit unit = TakeTransaction(end);
          if (!unit.changes.empty()) Push(std::move(unit));
        }
        return absl::OkStatus();
      }
      case 'R': {
        uint32_t id = static_cast<uint32_t>(in.UInt(4));
        std::string_view ns = in.CString();
        std::string_view rel = in.CString();
        in.U8();
        size_t n = in.UInt(2);
        bool ours = rel == o.table && (o.schema.empty() || ns == o.schema);
        if (ours) {
          relid = id;
          relation_to_schema.assign(n, -1);
        }
        for (size_t i = 0; i < n && in.ok; ++i) {
          in.U8();
          std::string_view name = in.CString();
          in.UInt(4);
          in.UInt(4);
          if (ours) {
            auto it = schema_index.find(std::string(name));
            if (it != schema_index.end()) relation_to_schema[i] = it->second;
          }
        }
        return absl::OkStatus();
      }
      case 'I': {
        if (static_cast<uint32_t>(in.UInt(4)) != relid || relid == 0) return absl::OkStatus();
        if (in.U8() != 'N' || !ReadTuple(in, tuple, values)) break;
        std::optional<Row> row = BuildRow(values, nullptr, lsn);
        if (!row) return absl::OkStatus();
        Key id = IdOf(*row);
        Upsert(id, std::move(*row));
        return absl::OkStatus();
      }
      case 'U':
      case 'D': {
        if (static_cast<uint32_t>(in.UInt(4)) != relid || relid == 0) return absl::OkStatus();
        if (o.append_only) {
          return absl::FailedPreconditionError(fmt::format(
              "{}: Modification of a non-append-only table: an {} in {} (LSN {}), read with is_append_only=True", o.name,
              type == 'U' ? "update" : "deletion", where, FormatLsn(lsn)));
        }
        char part = static_cast<char>(in.U8());
        std::optional<Key> old_id;
        const Row* old_row = nullptr;
        if (part == 'K' || part == 'O') {
          // The old key (or the whole old row): the row it names.
          if (!ReadTuple(in, old_tuple, old_values)) break;
          bool complete = true;
          for (int k : o.primary_key) {
            const TupleValue* v = old_values[static_cast<size_t>(k)];
            if (v == nullptr || v->kind != 't') {
              complete = false;
              break;
            }
          }
          if (complete) {
            RowBuilder& keys = old_key_builder;
            keys.Clear();
            for (int k : o.primary_key) {
              size_t c = static_cast<size_t>(k);
              if (!internal::AppendTextValue(old_values[c]->text, o.columns[c].type, o.columns[c].element, pg_types[c], keys).ok()) {
                complete = false;
                break;
              }
            }
            if (complete) old_id = value::IdFromValues(keys.Finish().values());
          }
          if (type == 'U') part = static_cast<char>(in.U8());
        }
        if (type == 'D') {
          if (!old_id) {
            Error(fmt::format("table {}: a deletion that does not name its row by the primary key (LSN {})", where, FormatLsn(lsn)));
            return absl::OkStatus();
          }
          Remove(*old_id);
          return absl::OkStatus();
        }
        if (part != 'N' || !ReadTuple(in, tuple, values)) break;
        // The new row's id; its old row is the one of the old key, else of the same key.
        std::optional<Row> probe = BuildRow(values, nullptr, lsn);
        Key id;
        if (probe) {
          id = IdOf(*probe);
        } else if (old_id) {
          id = *old_id;
        } else {
          return absl::OkStatus();
        }
        Key before_id = old_id.value_or(id);
        auto old_it = live.find(before_id);
        old_row = old_it == live.end() ? nullptr : &old_it->second;
        std::optional<Row> row = probe;
        bool toasted = std::any_of(values.begin(), values.end(), [](const TupleValue* v) { return v != nullptr && v->kind == 'u'; });
        if (toasted) {
          Row old_copy = old_row ? *old_row : Row();
          row = BuildRow(values, old_row ? &old_copy : nullptr, lsn);
          if (!row) return absl::OkStatus();
          id = IdOf(*row);
        }
        if (!row) return absl::OkStatus();
        if (before_id != id) Remove(before_id);
        Upsert(id, std::move(*row));
        return absl::OkStatus();
      }
      case 'T': {
        size_t n = in.UInt(4);
        in.U8();
        bool ours = false;
        for (size_t i = 0; i < n && in.ok; ++i) ours = ours || static_cast<uint32_t>(in.UInt(4)) == relid;
        if (ours) {
          std::vector<Key> ids;
          for (const auto& [id, row] : live) ids.push_back(id);
          for (const Key& id : ids) Remove(id);
        }
        return absl::OkStatus();
      }
      default:
        return absl::OkStatus();  // types, origins, logical messages
    }
    return absl::InternalError(fmt::format("{}: a replication message that does not parse (type {}, LSN {})", o.name, type, FormatLsn(lsn)));
  }

  absl::Status Stream(Conn& repl, const std::string& slot, uint64_t start) {
    std::string sql = fmt::format("START_REPLICATION SLOT {} LOGICAL {} (proto_version '1', publication_names {})",
                                  QuoteIdentifier(slot), FormatLsn(start), QuoteLiteral(QuoteIdentifier(o.publication)));
    if (auto s = Exec(repl, sql); !s.ok()) return s;
    received_lsn = start;
    auto last_status = std::chrono::steady_clock::now();
    while (!stop.load()) {
      char* buffer = nullptr;
      int n = PQgetCopyData(repl.conn, &buffer, 1);
      if (n == 0) {
        // Nothing yet: wait for the socket, or a moment to tell the server where we stand.
        auto now = std::chrono::steady_clock::now();
        if (auto s = SendStatus(repl, now - last_status >= kStatusInterval); !s.ok()) return s;
        if (now - last_status >= kStatusInterval) last_status = now;
        int fd = PQsocket(repl.conn);
        fd_set set;
        FD_ZERO(&set);
        FD_SET(fd, &set);
        timeval timeout{0, 100000};
        select(fd + 1, &set, nullptr, nullptr, &timeout);
        if (PQconsumeInput(repl.conn) == 0) {
          return absl::UnavailableError(fmt::format("{}: the replication connection was lost: {}", o.name,
                                                    internal::ServerMessage(PQerrorMessage(repl.conn))));
        }
        continue;
      }
      if (n < 0) {
        return absl::UnavailableError(fmt::format("{}: the replication stream ended: {}", o.name,
                                                  internal::ServerMessage(PQerrorMessage(repl.conn))));
      }
      Cursor in{buffer, buffer + n};
      char kind = static_cast<char>(in.U8());
      absl::Status status;
      if (kind == 'w') {
        uint64_t lsn = in.UInt(8);
        in.UInt(8);
        in.UInt(8);
        if (in.ok) status = HandleMessage(in, lsn);
        received_lsn = std::max(received_lsn, lsn);
      } else if (kind == 'k') {
        uint64_t end = in.UInt(8);
        in.UInt(8);
        bool reply = in.U8() != 0;
        received_lsn = std::max(received_lsn, end);
        if (reply) {
          status = SendStatus(repl, true);
          last_status = std::chrono::steady_clock::now();
        }
      }
      PQfreemem(buffer);
      if (!status.ok()) return status;
    }
    // Stopping: the server hears what was committed, then the stream ends.
    (void)SendStatus(repl, true);
    PQputCopyEnd(repl.conn, nullptr);
    return absl::OkStatus();
  }

  // Streams a persistent slot; when the connection is lost (a server restart), connects again
  // and resumes after the last transaction handed to the run, for up to a minute.
  absl::Status StreamAndReconnect(Conn& repl, const std::string& slot, uint64_t start) {
    absl::Status status = Stream(repl, slot, start);
    while (!status.ok() && status.code() == absl::StatusCode::kUnavailable && !stop.load()) {
      auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
      auto backoff = std::chrono::milliseconds(100);
      absl::Status last = status;
      status = absl::OkStatus();
      while (true) {
        if (stop.load()) return absl::OkStatus();
        if (std::chrono::steady_clock::now() + backoff > deadline) {
          return absl::UnavailableError(fmt::format("{}: the replication connection was lost and not regained within 60 s: {}",
                                                    o.name, std::string(last.message())));
        }
        std::this_thread::sleep_for(backoff);
        backoff = std::min(backoff * 2, std::chrono::milliseconds(2000));
        repl.Reset();
        touched.clear();
        touched_order.clear();
        if (absl::Status s = Connect(repl, true); !s.ok()) {
          last = s;
          continue;
        }
        // Transactions already handed over are not sent again (the server starts after
        // max(this position, the slot's confirmed position)).
        status = Stream(repl, slot, std::max(pushed_lsn, start));
        if (!status.ok() && status.code() != absl::StatusCode::kUnavailable) {
          last = status;  // e.g. the slot still held by the old connection's server process
          status = absl::OkStatus();
          continue;
        }
        break;
      }
    }
    return status;
  }

  void Run() {
    absl::Status status = RunStatus();
    if (!status.ok()) {
      Fail(std::move(status));
      return;
    }
    std::function<void()> w;
    {
      std::lock_guard<std::mutex> lock(mutex);
      finished = true;
      w = wakeup;
    }
    if (w) w();
  }

  absl::Status RunStatus() {
    Conn c;
    if (auto s = Connect(c, false); !s.ok()) return s;
    if (auto s = ReadCatalog(c); !s.ok()) return s;
    if (!o.streaming) {
      if (auto s = Exec(c, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"); !s.ok()) return s;
      if (auto s = ReadSnapshot(c, 0); !s.ok()) return s;
      return Exec(c, "COMMIT");
    }
    // The publication: made for the table when missing; else it must include the table.
    Result pub(nullptr);
    if (auto s = Exec(c, fmt::format("SELECT 1 FROM pg_publication WHERE pubname = {}", QuoteLiteral(o.publication)), &pub); !s.ok()) return s;
    if (PQntuples(pub.result) == 0) {
      if (auto s = Exec(c, fmt::format("CREATE PUBLICATION {} FOR TABLE {}", QuoteIdentifier(o.publication),
                                       QualifiedName(o.schema, o.table)));
          !s.ok()) {
        return s;
      }
    } else {
      Result has(nullptr);
      if (auto s = Exec(c, fmt::format("SELECT 1 FROM pg_publication_tables WHERE pubname = {} AND schemaname = {} AND tablename = {}",
                                       QuoteLiteral(o.publication), o.schema.empty() ? "current_schema()" : QuoteLiteral(o.schema),
                                       QuoteLiteral(o.table)),
                        &has);
          !s.ok()) {
        return s;
      }
      if (PQntuples(has.result) == 0) {
        return absl::InvalidArgumentError(fmt::format("{}: the publication {} does not include the table {} (ALTER PUBLICATION {} ADD TABLE {})",
                                                      o.name, o.publication, where, QuoteIdentifier(o.publication),
                                                      QualifiedName(o.schema, o.table)));
      }
    }
    bool temporary = o.slot.empty();
    std::string slot = temporary ? fmt::format("deltaflow_{:016x}", static_cast<uint64_t>(std::hash<std::string>()(where) ^
                                                                                          static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count())))
                                 : o.slot;
    Conn repl;
    if (auto s = Connect(repl, true); !s.ok()) return s;
    if (!temporary) {
      Result existing(nullptr);
      if (auto s = Exec(c, fmt::format("SELECT active, plugin FROM pg_replication_slots WHERE slot_name = {}", QuoteLiteral(slot)), &existing); !s.ok()) return s;
      bool exists = PQntuples(existing.result) > 0;
      if (exists && std::string_view(PQgetvalue(existing.result, 0, 0)) == "t") {
        return absl::FailedPreconditionError(fmt::format("{}: the replication slot {} is in use by another connection", o.name, slot));
      }
      if (exists && resume_lsn) {
        // Restored state: the stream goes on from where the earlier run stopped.
        c.Reset();
        return StreamAndReconnect(repl, slot, *resume_lsn);
      }
      if (resume_lsn) {
        // Read again, compared with the restored rows: what changed while the slot was gone
        // arrives as changes (those that came and went in between are not seen).
        Error(fmt::format("the replication slot {} to resume from is gone: the table is read again and compared with "
                          "what the pipeline had",
                          slot));
      }
      if (exists) {
        // No saved state: the slot is made again, with a snapshot of the table.
        if (auto s = Exec(c, fmt::format("SELECT pg_drop_replication_slot({})", QuoteLiteral(slot))); !s.ok()) return s;
      }
    } else if (resume_lsn) {
      return absl::FailedPreconditionError(fmt::format(
          "{}: a temporary replication slot cannot be resumed; name one with replication_slot_name", o.name));
    }
    Result created(nullptr);
    if (auto s = Exec(repl, fmt::format("CREATE_REPLICATION_SLOT {} {}LOGICAL pgoutput EXPORT_SNAPSHOT", QuoteIdentifier(slot),
                                        temporary ? "TEMPORARY " : ""),
                      &created);
        !s.ok()) {
      return s;
    }
    uint64_t consistent = 0;
    ParseLsn(PQgetvalue(created.result, 0, 1), consistent);
    std::string snapshot = PQgetvalue(created.result, 0, 2);
    // The table as of the slot's start, read in the snapshot the slot exported.
    if (auto s = Exec(c, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"); !s.ok()) return s;
    if (auto s = Exec(c, fmt::format("SET TRANSACTION SNAPSHOT {}", QuoteLiteral(snapshot))); !s.ok()) return s;
    if (auto s = ReadSnapshot(c, consistent); !s.ok()) return s;
    if (auto s = Exec(c, "COMMIT"); !s.ok()) return s;
    c.Reset();
    if (stop.load()) return absl::OkStatus();
    if (temporary) return Stream(repl, slot, consistent);
    return StreamAndReconnect(repl, slot, consistent);
  }
};

PostgresSource::PostgresSource(PostgresSourceOptions options) : options_(std::move(options)) {}

PostgresSource::~PostgresSource() { Close(); }

absl::StatusOr<std::unique_ptr<PostgresSource>> PostgresSource::Make(PostgresSourceOptions options) {
  const std::string& name = options.name;
  if (options.table.empty()) return absl::InvalidArgumentError(fmt::format("{}: the table name is empty", name));
  if (options.columns.empty()) return absl::InvalidArgumentError(fmt::format("{}: the schema has no columns", name));
  for (int k : options.primary_key) {
    if (k < 0 || k >= static_cast<int>(options.columns.size())) {
      return absl::InvalidArgumentError(fmt::format("{}: primary key column {} out of range", name, k));
    }
  }
  if (options.streaming && options.publication.empty()) {
    return absl::InvalidArgumentError(fmt::format("{}: 'publication_name' is required for the streaming mode", name));
  }
  if (options.streaming && !options.append_only && options.primary_key.empty()) {
    return absl::InvalidArgumentError(fmt::format(
        "{}: the schema needs a primary key to follow updates and deletions (or read with is_append_only=True)", name));
  }
  auto source = std::unique_ptr<PostgresSource>(new PostgresSource(std::move(options)));
  source->reader_ = std::make_unique<Reader>(source->options_);
  const PostgresSourceOptions& o = source->options_;
  source->reader_->where = o.schema.empty() ? o.table : o.schema + "." + o.table;
  return source;
}

absl::Status PostgresSource::Open(const io::SourceContext& context) {
  (void)context;
  Reader* r = reader_.get();
  r->thread = std::thread([r] { r->Run(); });
  return absl::OkStatus();
}

absl::StatusOr<io::PollResult> PostgresSource::Poll(std::vector<io::Change>& out, size_t max_rows) {
  (void)max_rows;
  std::lock_guard<std::mutex> lock(reader_->mutex);
  if (!reader_->ready.empty()) {
    // One unit per poll: one source transaction is one time.
    Reader::Unit& unit = reader_->ready.front();
    for (io::Change& change : unit.changes) out.push_back(std::move(change));
    if (!unit.partial) current_lsn_ = std::max(current_lsn_, unit.lsn);
    reader_->ready.pop_front();
    return reader_->ready.empty() && reader_->finished && reader_->failure.ok() ? io::PollResult::kFinished
                                                                                : io::PollResult::kMore;
  }
  if (!reader_->failure.ok()) return reader_->failure;
  return reader_->finished ? io::PollResult::kFinished : io::PollResult::kMore;
}

io::Offsets PostgresSource::CurrentOffsets() const {
  if (!options_.streaming || current_lsn_ == 0) return {};
  return {{"lsn", io::Offset{current_lsn_, 0, 0}}};
}

absl::Status PostgresSource::Seek(const io::Offsets& offsets) {
  auto it = offsets.find("lsn");
  if (it == offsets.end()) return absl::OkStatus();
  if (options_.slot.empty()) {
    return absl::FailedPreconditionError(
        fmt::format("{}: a temporary replication slot cannot be resumed; name one with replication_slot_name", options_.name));
  }
  reader_->resume_lsn = it->second.position;
  current_lsn_ = it->second.position;
  return absl::OkStatus();
}

void PostgresSource::Restore(const std::vector<io::Change>& batch) {
  io::RestoreRowsById(batch, reader_->live);
}

absl::Status PostgresSource::Commit(const io::Offsets& offsets) {
  auto it = offsets.find("lsn");
  if (it != offsets.end()) {
    uint64_t lsn = it->second.position;
    uint64_t prev = reader_->flush_lsn.load();
    while (lsn > prev && !reader_->flush_lsn.compare_exchange_weak(prev, lsn)) {
    }
  }
  return absl::OkStatus();
}

void PostgresSource::DrainErrors(std::vector<io::SourceError>& errors) {
  std::lock_guard<std::mutex> lock(reader_->mutex);
  for (io::SourceError& e : reader_->errors) errors.push_back(std::move(e));
  reader_->errors.clear();
}

void PostgresSource::SetWakeup(std::function<void()> wakeup) {
  std::lock_guard<std::mutex> lock(reader_->mutex);
  reader_->wakeup = std::move(wakeup);
}

void PostgresSource::Close() {
  if (!reader_) return;
  reader_->stop.store(true);
  if (reader_->thread.joinable()) reader_->thread.join();
}

}  // namespace deltaflow::connectors::postgres
