#include "deltaflow/connectors/postgres/postgres_sink.h"

#include <algorithm>
#include <charconv>
#include <functional>
#include <thread>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "connection_internal.h"
#include "fmt/format.h"
#include "sql_text.h"

namespace deltaflow::connectors::postgres {

namespace {

using internal::QualifiedName;
using internal::QuoteIdentifier;
using internal::QuoteLiteral;

// Rows of COPY data gathered before they are sent to the server.
constexpr size_t kCopyChunkBytes = 256 * 1024;
// Times of at most this many rows are written as one query of literals (one round trip)
// instead of by COPY (a round trip more for the COPY, and for a snapshot's staging tables).
constexpr size_t kSmallBatch = 64;

struct TargetColumn {
  std::string udt;
  bool nullable = true;
};

}  // namespace

struct PostgresSink::Session {
  std::unique_ptr<pqxx::connection> connection;
  bool staging_ready = false;  // the snapshot's temporary tables exist in this session
  std::vector<internal::Target> targets;  // per column written
  std::string target_name;                // "schema"."table"
  std::string column_list;                // "a","b" (the columns written)
  std::vector<std::string> quoted;        // each column, quoted
  std::vector<std::string> copy_columns;  // a stream of changes: the columns, "time", "diff"
  std::vector<std::string> key_columns;   // a snapshot: the key's columns, quoted
  std::string key_match;                  // t."k" = d."k" AND ...
  std::string upsert_tail;                // ON CONFLICT (key) DO UPDATE SET ...
  // Scratch, reused for every time.
  std::string chunk;
  std::string key;
  absl::flat_hash_map<std::string, int64_t> last_by_key;  // key -> index of its last insertion, or -1
  std::vector<std::pair<size_t, int64_t>> units;          // (change, +-1) per database row
  std::vector<size_t> upserts;
  std::vector<size_t> deletes;
};

PostgresSink::PostgresSink(PostgresSinkOptions options)
    : options_(std::move(options)), session_(std::make_unique<Session>()) {}

PostgresSink::~PostgresSink() = default;

namespace {

// Runs `body` in one transaction on the sink's connection, reconnecting and running it again
// while the connection is lost, for up to `timeout`. `done` tells, after a commit whose outcome
// is unknown, whether the transaction took effect.
// `single`: `body` sends the whole transaction (BEGIN ... COMMIT) as one query, outside libpqxx's
// transaction.
absl::Status InTransaction(std::unique_ptr<pqxx::connection>& connection, const std::string& conninfo,
                           const std::string& name, absl::Duration timeout, const std::function<void()>& on_connect,
                           const std::function<void(pqxx::transaction_base&)>& body,
                           const std::function<bool(pqxx::transaction_base&)>& done, bool single = false) {
  absl::Time deadline = absl::Now() + timeout;
  absl::Duration backoff = absl::Milliseconds(50);
  bool in_doubt = false;
  std::string last_error;
  while (true) {
    try {
      if (!connection || !connection->is_open()) {
        connection = std::make_unique<pqxx::connection>(conninfo);
        on_connect();
      }
      if (single) {
        pqxx::nontransaction tx(*connection);
        if (in_doubt && done && done(tx)) return absl::OkStatus();
        in_doubt = true;  // from here, a lost connection leaves the outcome unknown
        body(tx);
        return absl::OkStatus();
      }
      pqxx::work tx(*connection);
      if (in_doubt && done && done(tx)) return absl::OkStatus();
      body(tx);
      tx.commit();
      return absl::OkStatus();
    } catch (const pqxx::in_doubt_error& e) {
      in_doubt = true;
      last_error = e.what();
    } catch (const pqxx::broken_connection& e) {
      last_error = e.what();
    } catch (const pqxx::sql_error& e) {
      if (!internal::IsConnectionLoss(e, connection.get())) {
        if (single) connection.reset();  // the session is in an aborted transaction
        return absl::InvalidArgumentError(fmt::format("{}: {}", name, internal::ServerMessage(e.what())));
      }
      last_error = e.what();
    } catch (const internal::WriteFailure& e) {
      if (single) connection.reset();
      return absl::InvalidArgumentError(fmt::format("{}: {}", name, e.what()));
    } catch (const std::exception& e) {
      if (connection && connection->is_open()) {
        return absl::InternalError(fmt::format("{}: {}", name, internal::ServerMessage(e.what())));
      }
      last_error = e.what();
    }
    // The connection is gone: try again on a new one, until the deadline.
    connection.reset();
    if (timeout == absl::ZeroDuration()) {
      return absl::UnavailableError(
          fmt::format("{}: cannot connect to PostgreSQL: {}", name, internal::ServerMessage(last_error)));
    }
    if (absl::Now() + backoff > deadline) {
      return absl::UnavailableError(fmt::format("{}: the connection to PostgreSQL was lost and not regained within {}: {}",
                                                name, absl::FormatDuration(timeout),
                                                internal::ServerMessage(last_error)));
    }
    std::this_thread::sleep_for(absl::ToChronoMilliseconds(backoff));
    backoff = std::min(backoff * 2, absl::Seconds(2));
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<PostgresSink>> PostgresSink::Make(PostgresSinkOptions options) {
  const std::string& name = options.name;
  if (options.table.empty()) return absl::InvalidArgumentError(fmt::format("{}: the table name is empty", name));
  if (options.columns.empty()) return absl::InvalidArgumentError(fmt::format("{}: the table has no columns", name));
  int arity = static_cast<int>(options.columns.size());
  for (int k : options.primary_key) {
    if (k < 0 || k >= arity) return absl::InvalidArgumentError(fmt::format("{}: primary key column {} out of range", name, k));
  }
  for (int k : options.sort_by) {
    if (k < 0 || k >= arity) return absl::InvalidArgumentError(fmt::format("{}: sort_by column {} out of range", name, k));
  }
  bool snapshot = options.table_type == TableType::kSnapshot;
  if (snapshot && options.primary_key.empty()) {
    return absl::InvalidArgumentError(fmt::format("{}: primary key field names must be specified for a snapshot mode", name));
  }
  auto sink = std::unique_ptr<PostgresSink>(new PostgresSink(std::move(options)));
  const PostgresSinkOptions& o = sink->options_;
  Session& s = *sink->session_;
  s.target_name = QualifiedName(o.schema, o.table);
  for (const PostgresColumn& c : o.columns) s.quoted.push_back(QuoteIdentifier(c.name));
  s.column_list = absl::StrJoin(s.quoted, ",");
  s.copy_columns = s.quoted;
  s.copy_columns.push_back("\"time\"");
  s.copy_columns.push_back("\"diff\"");
  std::vector<std::string> key_match, updates;
  for (int k : o.primary_key) {
    const std::string& q = s.quoted[static_cast<size_t>(k)];
    s.key_columns.push_back(q);
    key_match.push_back(fmt::format("t.{0} = d.{0}", q));
  }
  for (size_t c = 0; c < o.columns.size(); ++c) {
    if (std::find(o.primary_key.begin(), o.primary_key.end(), static_cast<int>(c)) != o.primary_key.end()) continue;
    updates.push_back(fmt::format("{0} = EXCLUDED.{0}", s.quoted[c]));
  }
  s.key_match = absl::StrJoin(key_match, " AND ");
  s.upsert_tail = fmt::format(" ON CONFLICT ({}) DO {}", absl::StrJoin(s.key_columns, ","),
                              updates.empty() ? "NOTHING" : "UPDATE SET " + absl::StrJoin(updates, ", "));

  std::string where = o.schema.empty() ? o.table : o.schema + "." + o.table;
  absl::flat_hash_map<std::string, TargetColumn> target;
  auto prepare = [&](pqxx::transaction_base& tx) {
    // The table as `init_mode` says, then its columns as the server has them.
    if (o.init_mode != InitMode::kDefault) {
      std::vector<std::string> defs;
      for (size_t i = 0; i < o.columns.size(); ++i) defs.push_back(s.quoted[i] + " " + o.columns[i].sql_type);
      if (!snapshot) {
        defs.push_back("\"time\" BIGINT NOT NULL");
        defs.push_back("\"diff\" SMALLINT NOT NULL");
      } else {
        defs.push_back("PRIMARY KEY (" + absl::StrJoin(s.key_columns, ",") + ")");
      }
      if (o.init_mode == InitMode::kReplace) tx.exec0("DROP TABLE IF EXISTS " + s.target_name);
      tx.exec0(fmt::format("CREATE TABLE {}{} ({})", o.init_mode == InitMode::kCreateIfNotExists ? "IF NOT EXISTS " : "",
                           s.target_name, absl::StrJoin(defs, ", ")));
    }
    std::string schema = o.schema.empty() ? "current_schema()" : QuoteLiteral(o.schema);
    pqxx::result columns = tx.exec(fmt::format(
        "SELECT column_name, udt_name, is_nullable FROM information_schema.columns "
        "WHERE table_schema = {} AND table_name = {}",
        schema, QuoteLiteral(o.table)));
    for (const auto& row : columns) {
      target[row[0].c_str()] = TargetColumn{row[1].c_str(), std::string_view(row[2].c_str()) == "YES"};
    }
    if (target.empty()) {
      throw internal::WriteFailure(fmt::format(
          "the table {} does not exist (init_mode=\"default\" writes to an existing table; "
          "\"create_if_not_exists\" or \"replace\" create it)", where));
    }
    std::vector<std::string> missing;
    for (const PostgresColumn& c : o.columns) {
      if (!target.contains(c.name)) missing.push_back(c.name);
    }
    if (!snapshot) {
      for (const char* meta : {"time", "diff"}) {
        if (!target.contains(meta)) missing.push_back(meta);
      }
    }
    if (!missing.empty()) {
      throw internal::WriteFailure(fmt::format("the table {} has no column{} {}{}", where, missing.size() > 1 ? "s" : "",
                                               absl::StrJoin(missing, ", "),
                                               snapshot ? "" : " (a stream of changes needs `time` BIGINT and `diff` SMALLINT)"));
    }
    if (!snapshot && target["time"].udt != "int8") {
      throw internal::WriteFailure(fmt::format(
          "the column time of {} is {}; it must be BIGINT to hold times (milliseconds since the epoch)", where,
          target["time"].udt));
    }
    for (const PostgresColumn& c : o.columns) {
      if (c.optional && !target[c.name].nullable) {
        throw internal::WriteFailure(fmt::format(
            "the column {} may hold None, but {}.{} is NOT NULL; filter out the Nones or make the column nullable",
            c.name, where, c.name));
      }
    }
    if (snapshot) {
      // The key must be the target's primary key or one of its unique constraints.
      pqxx::result constraints = tx.exec(fmt::format(
          "SELECT tc.constraint_name, kcu.column_name FROM information_schema.table_constraints tc "
          "JOIN information_schema.key_column_usage kcu ON tc.constraint_name = kcu.constraint_name "
          "AND tc.table_schema = kcu.table_schema AND tc.table_name = kcu.table_name "
          "WHERE tc.table_schema = {} AND tc.table_name = {} AND tc.constraint_type IN ('PRIMARY KEY', 'UNIQUE')",
          schema, QuoteLiteral(o.table)));
      absl::flat_hash_map<std::string, std::vector<std::string>> by_constraint;
      for (const auto& row : constraints) by_constraint[row[0].c_str()].push_back(row[1].c_str());
      std::vector<std::string> key;
      for (int k : o.primary_key) key.push_back(o.columns[static_cast<size_t>(k)].name);
      std::sort(key.begin(), key.end());
      bool found = false;
      for (auto& [constraint, cols] : by_constraint) {
        std::sort(cols.begin(), cols.end());
        found = found || cols == key;
      }
      if (!found) {
        throw internal::WriteFailure(fmt::format(
            "the table {} has no primary key or unique constraint on ({}), the primary key of the snapshot", where,
            absl::StrJoin(key, ", ")));
      }
    }
  };
  absl::Status status = InTransaction(
      s.connection, o.connection, name, absl::ZeroDuration(), [] {}, prepare, nullptr);
  if (!status.ok()) return status;
  for (const PostgresColumn& c : o.columns) s.targets.push_back(internal::TargetOf(target[c.name].udt));
  return sink;
}

absl::Status PostgresSink::Write(io::Time time, std::vector<io::Change>& changes) {
  const PostgresSinkOptions& o = options_;
  Session& s = *session_;
  if (!o.sort_by.empty()) {
    // Within each part (retractions, then insertions), ordered by the sort columns.
    auto by_columns = [&](const io::Change& a, const io::Change& b) {
      if ((a.diff < 0) != (b.diff < 0)) return a.diff < 0;
      for (int column : o.sort_by) {
        int c = value::CompareValues(a.row[static_cast<size_t>(column)], b.row[static_cast<size_t>(column)]);
        if (c != 0) return c < 0;
      }
      return false;
    };
    std::stable_sort(changes.begin(), changes.end(), by_columns);
  }

  // COPY `rows` (each appended by `append_row`) into `table (columns)`, in chunks of at most
  // max_batch_size rows per COPY.
  auto copy = [&](pqxx::transaction_base& tx, const std::string& table, const std::vector<std::string>& columns, size_t rows,
                  const std::function<void(size_t, std::string&)>& append_row) {
    size_t batch = o.max_batch_size == 0 ? rows : o.max_batch_size;
    for (size_t begin = 0; begin < rows; begin += batch) {
      size_t end = std::min(rows, begin + batch);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
      pqxx::tablewriter writer(tx, table, columns.begin(), columns.end());
#pragma GCC diagnostic pop
      s.chunk.clear();
      for (size_t i = begin; i < end; ++i) {
        append_row(i, s.chunk);
        s.chunk += '\n';
        if (s.chunk.size() >= kCopyChunkBytes) {
          s.chunk.pop_back();  // the writer ends each piece with a newline
          writer.write_raw_line(s.chunk);
          s.chunk.clear();
        }
      }
      if (!s.chunk.empty()) {
        s.chunk.pop_back();
        writer.write_raw_line(s.chunk);
      }
      writer.complete();
    }
  };
  // The values of a change's columns (`keys_only`: its primary key's), as COPY fields separated
  // by tabs or as SQL literals separated by commas.
  auto append_values = [&](const io::Change& change, bool keys_only, bool literals, std::string& out) {
    value::RowView row = change.row.view();
    size_t n = keys_only ? o.primary_key.size() : s.targets.size();
    for (size_t i = 0; i < n; ++i) {
      size_t c = keys_only ? static_cast<size_t>(o.primary_key[i]) : i;
      if (i > 0) out += literals ? ',' : '\t';
      absl::Status st = literals ? internal::AppendSqlLiteral(row[c], s.targets[c], o.columns[c].name, out)
                                 : internal::AppendCopyField(row[c], s.targets[c], o.columns[c].name, out);
      if (!st.ok()) throw internal::WriteFailure(std::string(st.message()));
    }
  };
  auto append_fields = [&](const io::Change& change, std::string& out) { append_values(change, false, false, out); };
  auto append_literals = [&](const io::Change& change, std::string& out) { append_values(change, false, true, out); };

  if (o.table_type == TableType::kStreamOfChanges) {
    // One database row per unit of multiplicity.
    std::vector<std::pair<size_t, int64_t>>& units = s.units;
    units.clear();
    for (size_t i = 0; i < changes.size(); ++i) {
      int64_t sign = changes[i].diff < 0 ? -1 : 1;
      for (int64_t n = 0; n < changes[i].diff * sign; ++n) units.emplace_back(i, sign);
    }
    std::string suffix_time = fmt::format("\t{}\t", time);
    auto done = [&](pqxx::transaction_base& tx) {
      // Times are strictly increasing: rows of this time mean its transaction committed.
      return !tx.exec(fmt::format("SELECT 1 FROM {} WHERE \"time\" = {} LIMIT 1", s.target_name, time)).empty();
    };
    if (units.size() <= kSmallBatch) {
      // A few rows: the whole transaction in one query, one round trip.
      auto body = [&](pqxx::transaction_base& tx) {
        s.chunk = fmt::format("BEGIN;INSERT INTO {} ({},\"time\",\"diff\") VALUES ", s.target_name, s.column_list);
        for (size_t u = 0; u < units.size(); ++u) {
          s.chunk += u == 0 ? "(" : ",(";
          append_literals(changes[units[u].first], s.chunk);
          s.chunk += fmt::format(",{},{})", time, units[u].second);
        }
        s.chunk += ";COMMIT";
        tx.exec(s.chunk);
      };
      absl::Status status = InTransaction(s.connection, o.connection, o.name, o.reconnect_timeout, [] {}, body, done, true);
      // A row the server rejected: written again by COPY, whose error names the column too.
      if (status.code() != absl::StatusCode::kInvalidArgument) return status;
    }
    auto body = [&](pqxx::transaction_base& tx) {
      copy(tx, s.target_name, s.copy_columns, units.size(), [&](size_t u, std::string& out) {
        append_fields(changes[units[u].first], out);
        out += suffix_time;
        out += units[u].second < 0 ? "-1" : "1";
      });
    };
    return InTransaction(s.connection, o.connection, o.name, o.reconnect_timeout, [] {}, body, done);
  }

  // A snapshot: each key's last insertion is upserted; a key only retracted is deleted.
  s.last_by_key.clear();
  for (size_t i = 0; i < changes.size(); ++i) {
    value::RowView row = changes[i].row.view();
    s.key.clear();
    for (int k : o.primary_key) {
      auto bytes = row[static_cast<size_t>(k)].encoded();
      s.key.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    }
    if (changes[i].diff > 0) {
      s.last_by_key[s.key] = static_cast<int64_t>(i);
    } else {
      s.last_by_key.try_emplace(s.key, -1);
    }
  }
  std::vector<size_t>& upserts = s.upserts;
  std::vector<size_t>& deletes = s.deletes;
  upserts.clear();
  deletes.clear();
  for (size_t i = 0; i < changes.size(); ++i) {
    value::RowView row = changes[i].row.view();
    s.key.clear();
    for (int k : o.primary_key) {
      auto bytes = row[static_cast<size_t>(k)].encoded();
      s.key.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    }
    auto it = s.last_by_key.find(s.key);
    if (it == s.last_by_key.end()) continue;
    if (it->second == static_cast<int64_t>(i)) {
      upserts.push_back(i);
      s.last_by_key.erase(it);
    } else if (it->second < 0) {
      deletes.push_back(i);
      s.last_by_key.erase(it);
    }
  }
  const std::vector<std::string>& key_columns = s.key_columns;
  auto on_connect = [&] { s.staging_ready = false; };
  if (upserts.size() + deletes.size() <= kSmallBatch) {
    // A few rows: the deletions and upserts in one query, one round trip.
    auto body = [&](pqxx::transaction_base& tx) {
      s.chunk = "BEGIN;";
      if (!deletes.empty()) {
        s.chunk += fmt::format("DELETE FROM {} WHERE ({}) IN (", s.target_name, absl::StrJoin(key_columns, ","));
        for (size_t d = 0; d < deletes.size(); ++d) {
          s.chunk += d == 0 ? "(" : ",(";
          append_values(changes[deletes[d]], true, true, s.chunk);
          s.chunk += ')';
        }
        s.chunk += ");";
      }
      if (!upserts.empty()) {
        s.chunk += fmt::format("INSERT INTO {} ({}) VALUES ", s.target_name, s.column_list);
        for (size_t u = 0; u < upserts.size(); ++u) {
          s.chunk += u == 0 ? "(" : ",(";
          append_literals(changes[upserts[u]], s.chunk);
          s.chunk += ')';
        }
        s.chunk += s.upsert_tail;
        s.chunk += ';';
      }
      s.chunk += "COMMIT";
      tx.exec(s.chunk);
    };
    absl::Status status = InTransaction(s.connection, o.connection, o.name, o.reconnect_timeout, [] {}, body, nullptr, true);
    // A row the server rejected: written again by COPY, whose error names the column too.
    if (status.code() != absl::StatusCode::kInvalidArgument) return status;
  }
  auto body = [&](pqxx::transaction_base& tx) {
    if (!s.staging_ready) {
      // Temporary tables of this session, emptied at every commit.
      tx.exec0(fmt::format(
          "CREATE TEMP TABLE IF NOT EXISTS deltaflow_upsert ON COMMIT DELETE ROWS AS SELECT {} FROM {} WITH NO DATA",
          s.column_list, s.target_name));
      tx.exec0(fmt::format(
          "CREATE TEMP TABLE IF NOT EXISTS deltaflow_delete ON COMMIT DELETE ROWS AS SELECT {} FROM {} WITH NO DATA",
          absl::StrJoin(key_columns, ","), s.target_name));
    }
    if (!deletes.empty()) {
      copy(tx, "deltaflow_delete", key_columns, deletes.size(),
           [&](size_t d, std::string& out) { append_values(changes[deletes[d]], true, false, out); });
      tx.exec0(fmt::format("DELETE FROM {} t USING deltaflow_delete d WHERE {}", s.target_name, s.key_match));
    }
    if (!upserts.empty()) {
      copy(tx, "deltaflow_upsert", s.quoted, upserts.size(),
           [&](size_t u, std::string& out) { append_fields(changes[upserts[u]], out); });
      tx.exec0(fmt::format("INSERT INTO {0} ({1}) SELECT {1} FROM deltaflow_upsert{2}", s.target_name, s.column_list,
                           s.upsert_tail));
    }
  };
  absl::Status status = InTransaction(s.connection, o.connection, o.name, o.reconnect_timeout, on_connect, body, nullptr);
  if (status.ok()) s.staging_ready = true;
  return status;
}

absl::StatusOr<std::string> PostgresSink::Position(io::Time frontier) {
  // Frontier 0 (a new persisted state, before its first checkpoint): rows the table had
  // before are not this pipeline's to take back, so no position (that interval is delivered
  // at least once).
  if (options_.table_type != TableType::kStreamOfChanges || frontier == 0) return std::string();
  return std::to_string(frontier);
}

absl::Status PostgresSink::Resume(const std::string& position) {
  if (options_.table_type != TableType::kStreamOfChanges || position.empty()) return absl::OkStatus();
  io::Time frontier = 0;
  auto [end, ec] = std::from_chars(position.data(), position.data() + position.size(), frontier);
  if (ec != std::errc() || end != position.data() + position.size()) {
    return absl::DataLossError(fmt::format("{}: the persisted position {:?} is not a time", options_.name, position));
  }
  Session& s = *session_;
  auto body = [&](pqxx::transaction_base& tx) {
    tx.exec0(fmt::format("DELETE FROM {} WHERE \"time\" >= {}", s.target_name, frontier));
  };
  return InTransaction(s.connection, options_.connection, options_.name, options_.reconnect_timeout, [] {}, body,
                       nullptr);
}

}  // namespace deltaflow::connectors::postgres
