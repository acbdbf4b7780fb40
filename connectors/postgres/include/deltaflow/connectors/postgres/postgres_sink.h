// PostgreSQL sinks: a table's changes written to a PostgreSQL table, through libpqxx.
//
// Two kinds of target table, as Pathway writes them:
// - A stream of changes: one database row per change (a change of multiplicity n, n rows),
//   with the table's columns followed by `time` (BIGINT, the change's time) and `diff`
//   (SMALLINT, 1 or -1).
// - A snapshot: the target holds the table's current rows, one per primary key. A time's
//   insertions are upserts (`INSERT ... ON CONFLICT (key) DO UPDATE`), a key that is only
//   retracted is deleted.
//
// Every closed time is one transaction: readers of the target see a time whole or not at all.
// Rows travel by `COPY ... FROM STDIN` (text format): a stream of changes is copied into the
// target; a snapshot's upserts and deletions are copied into temporary tables of the session
// and applied with one statement each. `max_batch_size` bounds the rows of one COPY; a time
// larger than that is several COPYs in the same transaction.
//
// Values are written as the target column's type wants them (the target's columns are read at
// open): a duration into INTERVAL, TIME or an integer column (microseconds, as Pathway), a
// date-time into TIMESTAMP, TIMESTAMPTZ or DATE, bytes into BYTEA, Json into JSON/JSONB/TEXT,
// tuples and lists into arrays (nested lists into multi-dimensional ones), number arrays into
// arrays or pgvector's `vector`/`halfvec`, a str into any type that reads it (UUID, INET,
// enums, ...). A value the server rejects stops the run with the server's message, which
// names the table, the column and the value.
//
// Opening (`Make`) connects and prepares the target by `init_mode`: `kDefault` expects the
// table to exist, `kCreateIfNotExists` creates it when missing, `kReplace` drops and creates
// it (column types as Pathway maps them, given by `PostgresColumn::sql_type`). The target's
// columns are checked then: every column written must exist, `time` and `diff` too for a
// stream of changes, a snapshot's key must match a primary key or unique constraint, and an
// optional column cannot go to a NOT NULL one.
//
// A lost connection (a server restart) is retried with backoff for up to `reconnect_timeout`;
// the time being written is written again in a new transaction. When the connection broke
// during COMMIT, so that the outcome is unknown, a stream of changes looks for the time's rows
// before writing them again; a snapshot's upserts and deletions are idempotent. Nothing is
// lost and nothing is written twice.
//
// The connection string is never logged nor put in an error message.
//
// Threading: the `io::Sink` contract.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "deltaflow/io/sink.h"

namespace deltaflow::connectors::postgres {

enum class TableType : uint8_t { kStreamOfChanges, kSnapshot };
enum class InitMode : uint8_t { kDefault, kCreateIfNotExists, kReplace };

/// One column written: its name, and the SQL type it gets when the sink creates the table
/// ("BIGINT NOT NULL", "TEXT", "DOUBLE PRECISION[]").
struct PostgresColumn {
  std::string name;
  std::string sql_type;
  bool optional = false;
};

struct PostgresSinkOptions {
  std::string connection;  // a libpq connection string
  std::string schema = "public";
  std::string table;
  std::vector<PostgresColumn> columns;
  TableType table_type = TableType::kStreamOfChanges;
  std::vector<int> primary_key;  // snapshot: the key columns
  InitMode init_mode = InitMode::kDefault;
  size_t max_batch_size = 0;  // rows per COPY (0: unbounded)
  std::vector<int> sort_by;   // within a time, rows ordered by these columns
  absl::Duration reconnect_timeout = absl::Seconds(60);
  std::string name = "postgres output";
};

/// Writes a table's changes to PostgreSQL; see the file comment.
class PostgresSink final : public io::Sink {
 public:
  /// Connects, prepares the target table and checks its columns.
  static absl::StatusOr<std::unique_ptr<PostgresSink>> Make(PostgresSinkOptions options);
  ~PostgresSink() override;

  absl::Status Write(io::Time time, std::vector<io::Change>& changes) override;
  /// Persistence, a table of changes: the checkpoint's frontier; `Resume` deletes the rows of
  /// later times (written after the checkpoint, before a crash), so the table holds every
  /// change once. A snapshot table needs neither: a restart's upserts and deletions by key
  /// leave it as the result is.
  absl::StatusOr<std::string> Position(io::Time frontier) override;
  absl::Status Resume(const std::string& position) override;

 private:
  struct Session;
  explicit PostgresSink(PostgresSinkOptions options);

  PostgresSinkOptions options_;
  std::unique_ptr<Session> session_;
};

}  // namespace deltaflow::connectors::postgres
