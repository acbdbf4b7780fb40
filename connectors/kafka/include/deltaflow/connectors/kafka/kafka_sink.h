// Kafka sinks: a table's changes as messages of a topic, through librdkafka.
//
// Each change becomes one message (a change of multiplicity n, n messages), with two headers
// as Pathway writes them, `pathway_time` (the change's time) and `pathway_diff` (1 or -1),
// followed by the user's header columns (a string as it is, bytes as they are, other values
// as text; None without a value). Payload by format (deltaflow/io/format.h): JSON (the row's
// columns, then "diff" and "time"), DSV (the cells, then time and diff; the first message of
// the stream is the header), plaintext (a string column as UTF-8) or raw (a bytes column as
// it is). The message key is the key column (str or bytes) when given, else the row's id (16
// bytes, little-endian). The topic is fixed or read from a column per row.
//
// Within one time, every retraction is produced before any insertion, so per message key the
// old row leaves before the new one arrives. The producer is idempotent unless the settings
// say otherwise (`enable.idempotence`). Delivery is checked, never assumed: a message the
// broker rejects (or that times out, `message.timeout.ms`) makes the next `Write` or `Flush`
// fail with the broker's error, which stops the run; `Flush` returns only when every message
// produced so far is acknowledged.
//
// Exactly once (persistence): `StartTransactions` recreates the producer with a
// transactional id derived from the persisted state (`transactional.id`; a zombie producer of
// an earlier run with the same id is fenced off), and from then on the messages of each
// checkpoint interval are committed in one transaction at `Commit(frontier)`, with the
// frontier stored as the committed offset of a consumer group of the same name on partition
// 0 of the topic (in the same transaction, so the two are visible together). After a crash
// `CommittedFrontier` reads it back. Readers see the output exactly once with
// `isolation.level=read_committed` (librdkafka's default). A sink writing to a topic taken
// from a column has no fixed topic to keep its frontier in: it delivers at least once. The
// broker keeps a group's offsets for `offsets.retention.minutes` (7 days by default): a
// pipeline down for longer delivers its last interval again.
//
// Threading: the `io::Sink` contract; librdkafka's own threads deliver.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "deltaflow/connectors/kafka/settings.h"
#include "deltaflow/io/sink.h"
#include "deltaflow/value/row.h"

namespace RdKafka {
class ConsumerGroupMetadata;
class Error;
class KafkaConsumer;
}  // namespace RdKafka

namespace deltaflow::connectors::kafka {

enum class SinkFormat : uint8_t { kJson, kDsv, kPlaintext, kRaw };

struct KafkaSinkOptions {
  Settings settings;
  std::string topic;             // the topic, unless `topic_column` is given
  int topic_column = -1;         // a str column naming each row's topic
  SinkFormat format = SinkFormat::kJson;
  std::vector<std::string> columns;  // the table's column names
  int key_column = -1;               // a str or bytes column: the message key
  int value_column = -1;             // plaintext, raw: the payload column
  std::vector<std::pair<std::string, int>> headers;  // header name -> column
  std::vector<int> sort_by;          // within a time, messages ordered by these columns
  char delimiter = ',';
  std::string name = "kafka sink";
};

/// Writes a table's changes to Kafka; see the file comment.
class KafkaSink final : public io::Sink {
 public:
  /// Creates the producer (fails on invalid settings, naming the setting but never a secret).
  static absl::StatusOr<std::unique_ptr<KafkaSink>> Make(KafkaSinkOptions options);
  ~KafkaSink() override;

  absl::Status Write(io::Time time, std::vector<io::Change>& changes) override;
  absl::Status Flush() override;
  absl::Status Commit(io::Time frontier) override;
  absl::StatusOr<bool> StartTransactions(const std::string& identity) override;
  absl::StatusOr<io::Time> CommittedFrontier() override;

 private:
  struct Producer;
  KafkaSink(KafkaSinkOptions options, std::unique_ptr<Producer> producer);
  // A producer for `options`, with `overrides` on top of the user's settings.
  static absl::StatusOr<std::unique_ptr<Producer>> MakeProducer(const KafkaSinkOptions& options,
                                                                const Settings& overrides);
  absl::Status Produce(const io::Change& change, io::Time time, int64_t diff);
  // Sends `payload_` under `key_`, with the time, diff and header columns as headers.
  absl::Status Send(const std::string& topic, value::RowView row, io::Time time, int64_t diff);
  absl::Status DeliveryError();
  // A consumer of the transactional group (for its metadata and committed offsets).
  absl::StatusOr<std::unique_ptr<RdKafka::KafkaConsumer>> GroupConsumer() const;
  absl::Status TransactionError(RdKafka::Error* error, std::string_view what);
  absl::Status Annotate(const absl::Status& status) const;

  KafkaSinkOptions options_;
  std::unique_ptr<Producer> producer_;
  bool header_sent_ = false;
  std::string group_;               // transactions: the group holding the committed frontier
  bool transactional_ = false;
  size_t uncommitted_ = 0;          // messages produced in the open transaction
  std::unique_ptr<RdKafka::ConsumerGroupMetadata> group_metadata_;
  // Scratch, reused for every message.
  std::string payload_;
  std::string key_;
  std::string row_topic_;
  std::string text_;
};

}  // namespace deltaflow::connectors::kafka
