// PostgreSQL sources: a table read as a consistent snapshot, then followed by logical
// replication (change data capture), through libpq.
//
// Streaming. The source creates a logical replication slot (the `pgoutput` plugin) that exports
// a snapshot, reads the table in that very snapshot, then streams the slot from the point the
// snapshot was taken: the hand-over from snapshot to stream is exact, nothing is missed or
// seen twice. The publication named by the user is created (`FOR TABLE`) when missing. The
// snapshot is the first commit; then each source transaction that changed the table is one
// commit (one engine time), whole.
//
// The slot. Named by the user (`slot`), it is persistent: its position (`confirmed_flush_lsn`)
// advances only through `Commit`, which the run calls once the times built from a transaction
// are closed and every sink has flushed them, so the server keeps the WAL a pipeline has not
// durably processed — also while the pipeline is down (mind the disk: drop a slot no pipeline
// will come back to). A restarted pipeline whose state is restored (`Seek` with the offsets an
// earlier run reported: the LSN) resumes the slot where it stopped, without a snapshot. A
// pipeline that starts without restored state makes the slot again with a fresh snapshot, since
// a stream of changes alone would not tell it the rows it never saw. Without a name, the slot
// is temporary: the server drops it when the connection ends.
//
// Changes. Rows are keyed by the schema's primary key (the row id is derived from the key's
// values, as Pathway derives it); the table needs a primary key (or REPLICA IDENTITY FULL) so
// that updates and deletions name their row. An insertion adds a row, an update replaces the
// row of its old key (TOASTed values the server did not resend are taken from the old row), a
// deletion retracts it, TRUNCATE retracts every row. An append-only source (`append_only`) has
// no key: ids come from the position of each row, and an update or deletion stops the run.
//
// Static (`streaming = false`): the table as one commit, read in one snapshot; then finished.
//
// Values are read in PostgreSQL's text forms (the session's TimeZone is UTC and IntervalStyle
// ISO 8601) into the column types the schema declares: integers, floats (NUMERIC too), bools,
// text (and UUID, INET, enums, ... as str), bytea as bytes, JSON/JSONB as Json, TIMESTAMP and
// DATE as naive date-times, TIMESTAMPTZ as UTC date-times, INTERVAL and TIME as durations
// (a month 30 days, a year 365.25 days, as PostgreSQL's own epoch), arrays as tuples. A value that
// does not read as its column's type is an error of that row, reported with the table, column
// and value; the run goes on without the row.
//
// The connection string is never logged nor put in an error message.
//
// Threading: the `io::Source` contract; one reader thread per source owns the connections.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "deltaflow/io/source.h"

namespace deltaflow::connectors::postgres {

/// The type a column is read into.
enum class ReadType : uint8_t {
  kAny, kInt, kFloat, kBool, kString, kBytes, kJson, kPointer, kDateTimeNaive, kDateTimeUtc, kDuration, kList,
};

struct ReadColumn {
  std::string name;
  ReadType type = ReadType::kAny;
  ReadType element = ReadType::kAny;  // kList: the elements' type
  bool optional = false;
};

struct PostgresSourceOptions {
  std::string connection;  // a libpq connection string
  std::string schema = "public";
  std::string table;
  std::vector<ReadColumn> columns;
  std::vector<int> primary_key;  // the schema's key columns (indices into `columns`)
  bool streaming = true;
  bool append_only = false;
  std::string publication;  // streaming: created FOR TABLE when missing
  std::string slot;         // streaming: a persistent slot's name; empty: a temporary slot
  std::string name = "postgres source";
};

class PostgresSource final : public io::Source {
 public:
  /// Checks the options; connections open in `Open`.
  static absl::StatusOr<std::unique_ptr<PostgresSource>> Make(PostgresSourceOptions options);
  ~PostgresSource() override;

  absl::Status Open(const io::SourceContext& context) override;
  absl::StatusOr<io::PollResult> Poll(std::vector<io::Change>& out, size_t max_rows) override;
  io::Offsets CurrentOffsets() const override;
  absl::Status Seek(const io::Offsets& offsets) override;
  /// Persistence: the rows an earlier run read (an update without its old row retracts them;
  /// a snapshot read again is compared with them).
  void Restore(const std::vector<io::Change>& batch) override;
  absl::Status Commit(const io::Offsets& offsets) override;
  void DrainErrors(std::vector<io::SourceError>& errors) override;
  void SetWakeup(std::function<void()> wakeup) override;
  void Close() override;

 private:
  struct Reader;
  explicit PostgresSource(PostgresSourceOptions options);

  PostgresSourceOptions options_;
  std::unique_ptr<Reader> reader_;
  uint64_t current_lsn_ = 0;  // the commit end of the last transaction polled
};

}  // namespace deltaflow::connectors::postgres
