// SQLite connectors, through the SQLite C library.
//
// `SqliteSource` follows a table of a database file: every half second it asks the database
// whether another connection committed (`PRAGMA data_version`); when one did, it reads the whole
// table again and emits the difference with what it read before (a new key an insertion, a
// changed row a retraction and an insertion, a vanished key a retraction), one commit per
// change seen. Rows are keyed by the schema's primary key, else by SQLite's rowid; the row id
// is derived from the key as Pathway derives it. Values convert by storage class as Pathway
// reads them: INTEGER into int (float, bool, and Duration as nanoseconds too), REAL into float,
// TEXT into str, Json, Pointer, date-times (ISO 8601) and lists (JSON), BLOB into bytes; a value
// that does not convert is an error of its row (reported, the row skipped), the rest goes on.
// It never finishes by itself.
//
// `SqliteSink` writes a table's changes, one transaction (`BEGIN IMMEDIATE`) per time: as a
// stream of changes (the columns, then `time` and `diff`) or as a snapshot kept equal to the
// table by primary key (deletions, then upserts). Values as Pathway writes them: bools and
// durations (nanoseconds) as INTEGER, floats as REAL, bytes as BLOB, date-times in ISO 8601
// with nine fraction digits, Json, tuples and arrays as JSON text, pointers as text.
//
// Threading: the `io::Source` / `io::Sink` contracts; the source polls on a thread of its own.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "deltaflow/io/parse.h"
#include "deltaflow/io/sink.h"
#include "deltaflow/io/source.h"

namespace deltaflow::connectors::sqlite {

/// The type a column is read into (beyond io::ColumnType: date-times, durations, lists).
enum class ReadType : uint8_t {
  kAny, kInt, kFloat, kBool, kString, kBytes, kJson, kPointer, kDateTimeNaive, kDateTimeUtc, kDuration, kList,
};

struct ReadColumn {
  std::string name;
  ReadType type = ReadType::kAny;
  bool optional = false;
};

struct SqliteSourceOptions {
  std::string path;
  std::string table;
  std::vector<ReadColumn> columns;
  std::vector<int> primary_key;  // indices into `columns`; empty: the rowid
  int poll_interval_ms = 500;
  std::string name = "sqlite source";
};

class SqliteSource final : public io::Source {
 public:
  static absl::StatusOr<std::unique_ptr<SqliteSource>> Make(SqliteSourceOptions options);
  ~SqliteSource() override;

  absl::Status Open(const io::SourceContext& context) override;
  absl::StatusOr<io::PollResult> Poll(std::vector<io::Change>& out, size_t max_rows) override;
  void DrainErrors(std::vector<io::SourceError>& errors) override;
  void SetWakeup(std::function<void()> wakeup) override;
  /// Persistence: the rows an earlier run read, so that the first poll emits only what
  /// changed since.
  void Restore(const std::vector<io::Change>& batch) override;
  void Close() override;

 private:
  struct Reader;
  explicit SqliteSource(SqliteSourceOptions options);
  SqliteSourceOptions options_;
  std::unique_ptr<Reader> reader_;
};

enum class TableType : uint8_t { kStreamOfChanges, kSnapshot };
enum class InitMode : uint8_t { kDefault, kCreateIfNotExists, kReplace };

struct SqliteColumn {
  std::string name;
  std::string sql_type;  // used when the sink creates the table ("INTEGER NOT NULL")
  bool optional = false;
};

struct SqliteSinkOptions {
  std::string path;
  std::string table;
  std::vector<SqliteColumn> columns;
  TableType table_type = TableType::kStreamOfChanges;
  std::vector<int> primary_key;
  InitMode init_mode = InitMode::kDefault;
  std::string name = "sqlite output";
};

class SqliteSink final : public io::Sink {
 public:
  static absl::StatusOr<std::unique_ptr<SqliteSink>> Make(SqliteSinkOptions options);
  ~SqliteSink() override;

  absl::Status Write(io::Time time, std::vector<io::Change>& changes) override;

 private:
  struct Db;
  explicit SqliteSink(SqliteSinkOptions options);
  SqliteSinkOptions options_;
  std::unique_ptr<Db> db_;
};

}  // namespace deltaflow::connectors::sqlite
