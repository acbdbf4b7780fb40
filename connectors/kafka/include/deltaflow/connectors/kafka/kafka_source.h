// Kafka sources: a topic's messages as the rows of a table, through librdkafka.
//
// Partitions are assigned to readers deterministically (`assign()`, never a consumer-group
// rebalance): reader i of n reads the partitions p with p % n == i, each reader a consumer on
// a thread of its own that fetches, parses (in C++, off the driving thread) and buffers rows.
// `parallel_readers` defaults to the run's worker count, never more than the partitions.
// Partitions added to the topic later are picked up (metadata is refreshed every few seconds).
//
// Where a partition starts: the offset `Seek` restored; else the first offset at or after
// `start_from_timestamp_ms`; else the consumer group's committed offset (`group.id`), else
// where `auto.offset.reset` says (librdkafka's default: the end).
//
// Offsets. Auto-commit is off. A partition's offset (the next offset to read) is committed to
// the consumer group only through `Commit`, which the run calls once the times built from
// those messages are closed and every sink has flushed them: a restarted pipeline with the
// same `group.id` resumes after what was durably processed, and reads again only what was in
// flight (at-least-once; exactly-once comes with persistence). Without a `group.id` the source
// uses a private one and commits nothing; a static read (a snapshot of the topic, which a
// second run reads again) commits nothing either.
//
// A static read (`streaming = false`) reads what the topic holds when it opens and delivers it
// as one commit, then finishes.
//
// Formats: raw (columns `key: bytes | None`, `data: bytes`), plaintext (`key: str | None`,
// `data: str`, both validated UTF-8), JSON (one object per message, the schema's columns,
// JSON Pointer paths) and DSV (one delimited record per message; the first message a reader
// sees is the header naming the fields, as `KafkaSink` writes it). With `with_metadata`, a last column `_metadata` (Json) holds the message's topic,
// partition, offset, timestamp and headers. A message whose payload is `*COMMIT*` ends the
// current commit (it is not a row).
//
// Ids: a message's key (raw, plaintext) or the schema's primary key (JSON, DSV) gives the row
// id, as Pathway derives it; a later message with the same id replaces the row (an upsert: the
// old row is retracted). Otherwise the id is derived from the topic, partition and offset.
//
// Bad messages (invalid JSON, a value of the wrong type, text that is not UTF-8) are skipped
// and reported through `DrainErrors` with topic, partition and offset; the run goes on. A
// broker that is down is waited for (librdkafka retries); a fatal client error (failed
// authentication, a fatal librdkafka error) fails `Poll`. A full backlog (rows buffered and
// not yet polled) pauses the reader's partitions instead of buffering without bound.
//
// Threading: the `io::Source` contract; librdkafka handles are used from the reader threads
// and, for commits, from the driving thread (librdkafka is thread-safe for both).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "deltaflow/connectors/kafka/settings.h"
#include "deltaflow/io/parse.h"
#include "deltaflow/io/source.h"

namespace deltaflow::connectors::kafka {

// kDebeziumPostgres, kDebeziumMongo: Debezium change events (JSON, with or without the
// schema envelope): `payload.op` c/r/u insert or replace the row of `payload.after` (a JSON
// object, or a JSON string holding one, as Debezium's MongoDB connector sends it), d deletes
// the row the message key names (the key's `payload`, else `payload.before`); the schema's
// primary key identifies rows, so updates and deletions need no full `before` image. A null
// payload (a tombstone) is not a change.
enum class SourceFormat : uint8_t { kRaw, kPlaintext, kJson, kDsv, kDebeziumPostgres, kDebeziumMongo };

struct KafkaSourceOptions {
  Settings settings;
  std::string topic;
  SourceFormat format = SourceFormat::kRaw;
  std::vector<io::Column> columns;  // JSON, DSV: the schema's columns
  std::vector<int> primary_key;     // JSON, DSV: column positions giving the id
  std::map<std::string, std::string> json_paths;  // column -> JSON Pointer into each message
  char delimiter = ',';                           // DSV
  bool with_metadata = false;
  bool autogenerate_key = false;  // raw, plaintext: ids never from the message key
  std::optional<int64_t> start_from_timestamp_ms;
  int parallel_readers = 0;  // 0: the run's worker count
  bool streaming = true;     // false: read what the topic holds at the start, then finish
  size_t backlog = 100000;   // rows buffered per reader before its partitions pause
  std::string name = "kafka source";  // for error messages
};

/// Reads a Kafka topic into table rows; see the file comment.
class KafkaSource final : public io::Source {
 public:
  /// Checks the options (not the broker: that is `Open`).
  static absl::StatusOr<std::unique_ptr<KafkaSource>> Make(KafkaSourceOptions options);
  ~KafkaSource() override;

  absl::Status Open(const io::SourceContext& context) override;
  absl::StatusOr<io::PollResult> Poll(std::vector<io::Change>& out, size_t max_rows) override;
  io::Offsets CurrentOffsets() const override;
  absl::Status Seek(const io::Offsets& offsets) override;
  /// Persistence: the rows an earlier run produced, for upserts and deletions by key.
  void Restore(const std::vector<io::Change>& batch) override;
  absl::Status Commit(const io::Offsets& offsets) override;
  void DrainErrors(std::vector<io::SourceError>& errors) override;
  void SetWakeup(std::function<void()> wakeup) override;
  void Close() override;

 private:
  class Reader;
  struct Shared;
  explicit KafkaSource(KafkaSourceOptions options);
  // Moves what the readers have into `out`: about `max_rows` rows at most.
  absl::StatusOr<io::PollResult> Take(std::vector<io::Change>& out, size_t max_rows);

  KafkaSourceOptions options_;
  bool commit_to_group_ = false;  // the user named a consumer group
  std::map<int32_t, int64_t> seek_;  // partition -> offset, from Seek
  std::vector<std::unique_ptr<Reader>> readers_;
  std::shared_ptr<Shared> shared_;
  io::Offsets offsets_;  // the next offset per partition, after the last poll
  absl::flat_hash_map<value::Key, value::Row> live_;  // rows with ids from keys, for upserts
  std::vector<io::SourceError> errors_;
  std::vector<io::Change> static_rows_;  // a static read's rows, until it is complete
};

}  // namespace deltaflow::connectors::kafka
