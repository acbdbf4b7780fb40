#include "deltaflow/connectors/kafka/kafka_source.h"

#include <algorithm>
#include <atomic>
#include <charconv>
#include <cstdint>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <random>
#include <set>
#include <thread>
#include <iterator>

#include "absl/time/clock.h"
#include "client_internal.h"
#include "deltaflow/io/format.h"
#include "fmt/format.h"
#include "simdjson.h"

namespace deltaflow::connectors::kafka {

namespace {

using value::Key;
using value::Row;
using value::RowBuilder;
using value::ValueView;

constexpr std::string_view kCommitLiteral = "*COMMIT*";
constexpr int kConsumeTimeoutMs = 100;
constexpr size_t kConsumeBatch = 4096;
constexpr absl::Duration kMetadataRefresh = absl::Seconds(5);

// The offset key of a partition: "topic/partition".
std::string PartitionName(const std::string& topic, int32_t partition) { return fmt::format("{}/{}", topic, partition); }

std::string RandomGroupId() {
  std::random_device device;
  return fmt::format("deltaflow-{:016x}{:08x}", (uint64_t{device()} << 32) | device(), device());
}

// The `_metadata` Json of a message, as Pathway writes it.
void AppendMetadata(const rd_kafka_message_t& message, std::string& out) {
  out += '{';
  rd_kafka_timestamp_type_t type = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE;
  int64_t timestamp = rd_kafka_message_timestamp(&message, &type);
  if (type != RD_KAFKA_TIMESTAMP_NOT_AVAILABLE) out += fmt::format("\"timestamp_millis\":{},", timestamp);
  out += "\"topic\":";
  value::AppendJsonString(out, rd_kafka_topic_name(message.rkt));
  out += fmt::format(",\"partition\":{},\"offset\":{},\"headers\":[", message.partition, message.offset);
  rd_kafka_headers_t* headers = nullptr;
  if (rd_kafka_message_headers(&message, &headers) == RD_KAFKA_RESP_ERR_NO_ERROR) {
    const char* name = nullptr;
    const void* value = nullptr;
    size_t size = 0;
    for (size_t i = 0; rd_kafka_header_get_all(headers, i, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR; ++i) {
      if (i > 0) out += ',';
      out += '[';
      value::AppendJsonString(out, name);
      out += ',';
      if (value == nullptr) {
        out += "null";
      } else {
        std::string encoded;
        io::AppendBase64({static_cast<const uint8_t*>(value), size}, encoded);
        value::AppendJsonString(out, encoded);
      }
      out += ']';
    }
  }
  out += "]}";
}

}  // namespace

// State the readers share with the source: the run's wakeup.
struct KafkaSource::Shared {
  std::mutex mutex;
  std::function<void()> wakeup;

  void Wake() {
    std::lock_guard<std::mutex> lock(mutex);
    if (wakeup) wakeup();
  }
};

// One consumer on a thread of its own, reading partitions p with p % count == index.
class KafkaSource::Reader {
 public:
  // The rows read between two commits (a `*COMMIT*` message closes one), and how far.
  struct Chunk {
    std::vector<io::Change> rows;
    std::vector<bool> keyed;  // whether the row's id comes from a key (an upsert)
    std::map<int32_t, int64_t> next_offsets;
    std::vector<io::SourceError> errors;
    bool closed = false;
    size_t taken = 0;  // rows already given to the driver
  };

  Reader(const KafkaSourceOptions& options, std::shared_ptr<Shared> shared, int index, int count,
         std::map<int32_t, int64_t> seek)
      : options_(options), shared_(std::move(shared)), index_(index), count_(count), seek_(std::move(seek)),
        events_(options.name), default_start_(DefaultStart(options.settings)) {}

  // Where a partition starts without a restored offset or a timestamp: the consumer group's
  // committed offset when the user named a group (else `auto.offset.reset`); without a group,
  // where `auto.offset.reset` says, with no round trip to a group coordinator.
  static int64_t DefaultStart(const Settings& settings) {
    if (!FindSetting(settings, "group.id").empty()) return RdKafka::Topic::OFFSET_STORED;
    std::string_view reset = FindSetting(settings, "auto.offset.reset");
    if (reset == "earliest" || reset == "beginning" || reset == "smallest") return RdKafka::Topic::OFFSET_BEGINNING;
    return RdKafka::Topic::OFFSET_END;  // librdkafka's default, "latest"
  }

  ~Reader() { Stop(); }

  absl::Status Open(const std::string& group_id) {
    Settings forced = {{"enable.auto.commit", "false"}, {"enable.auto.offset.store", "false"},
                       {"enable.partition.eof", "true"}};
    if (FindSetting(options_.settings, "group.id").empty()) forced.emplace_back("group.id", group_id);
    // librdkafka waits a second before fetching again once its local queue was full; the
    // reader drains that queue in batches, so a short wait keeps a backlog flowing (a
    // partition's catch-up ran 4x faster).
    Settings defaults = {{"fetch.queue.backoff.ms", "10"}};
    auto conf = internal::MakeConf(options_.settings, defaults, forced, &events_);
    if (!conf.ok()) return conf.status();
    std::string error;
    consumer_.reset(RdKafka::KafkaConsumer::create(conf->get(), error));
    if (!consumer_) {
      return absl::InvalidArgumentError(
          fmt::format("cannot create a Kafka consumer: {}", internal::Redacted(error, options_.settings)));
    }
    queue_ = rd_kafka_queue_get_consumer(consumer_->c_ptr());
    thread_ = std::thread([this] { Run(); });
    return absl::OkStatus();
  }

  void Stop() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
    if (queue_ != nullptr) {
      rd_kafka_queue_destroy(queue_);
      queue_ = nullptr;
    }
    if (consumer_) {
      consumer_->close();
      consumer_.reset();
    }
  }

  // Driver side: the oldest chunk, if it has anything.
  // Driver side: the oldest chunk, if it has anything; at most `limit` of its rows. A chunk
  // taken in parts gives its offsets and errors with its last part (the offsets then cover
  // every row given before).
  bool Take(Chunk& out, size_t limit) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (chunks_.empty()) return false;
    Chunk& front = chunks_.front();
    size_t left = front.rows.size() - front.taken;
    if (left == 0 && front.next_offsets.empty() && front.errors.empty()) {
      if (chunks_.size() > 1) chunks_.pop_front();
      return false;
    }
    if (left > limit) {
      if (limit == 0) return false;
      auto from = front.rows.begin() + static_cast<std::ptrdiff_t>(front.taken);
      out.rows.assign(std::make_move_iterator(from), std::make_move_iterator(from + static_cast<std::ptrdiff_t>(limit)));
      out.keyed.assign(front.keyed.begin() + static_cast<std::ptrdiff_t>(front.taken),
                       front.keyed.begin() + static_cast<std::ptrdiff_t>(front.taken + limit));
      front.taken += limit;
      buffered_ -= limit;
    } else {
      out = std::move(front);
      out.rows.erase(out.rows.begin(), out.rows.begin() + static_cast<std::ptrdiff_t>(out.taken));
      out.keyed.erase(out.keyed.begin(), out.keyed.begin() + static_cast<std::ptrdiff_t>(out.taken));
      buffered_ -= left;
      chunks_.pop_front();
    }
    cv_.notify_all();  // a paused reader may go on
    return true;
  }

  bool Finished() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return finished_ && chunks_.empty();
  }

  absl::Status Fatal() const {
    if (absl::Status s = events_.Fatal(); !s.ok()) return s;
    std::lock_guard<std::mutex> lock(mutex_);
    return fatal_;
  }

  // Commits the offsets of this reader's partitions that `offsets` names.
  void Commit(const io::Offsets& offsets) {
    std::vector<RdKafka::TopicPartition*> list;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      for (int32_t p : assigned_) {
        auto it = offsets.find(PartitionName(options_.topic, p));
        if (it == offsets.end()) continue;
        list.push_back(RdKafka::TopicPartition::create(options_.topic, p, static_cast<int64_t>(it->second.position)));
      }
    }
    if (!list.empty() && consumer_) {
      RdKafka::ErrorCode code = consumer_->commitAsync(list);
      if (code != RdKafka::ERR_NO_ERROR) {
        std::fprintf(stderr, "deltaflow: %s: committing offsets failed: %s\n", options_.name.c_str(),
                     RdKafka::err2str(code).c_str());
      }
    }
    RdKafka::TopicPartition::destroy(list);
  }

 private:
  void Run() {
    absl::Time next_refresh = absl::InfinitePast();
    bool warned_missing = false;
    while (!Stopping()) {
      if (absl::Now() >= next_refresh) {
        next_refresh = absl::Now() + kMetadataRefresh;
        absl::Status assigned = AssignNewPartitions(warned_missing);
        if (!assigned.ok()) {
          std::lock_guard<std::mutex> lock(mutex_);
          fatal_ = assigned;
          break;
        }
      }
      if (!WaitForRoom()) break;
      if (assigned_count_ == 0) {
        if (!options_.streaming && metadata_seen_) break;  // nothing of the topic is ours
        std::unique_lock<std::mutex> lock(mutex_);
        cv_.wait_for(lock, std::chrono::milliseconds(200), [&] { return stop_; });
        continue;
      }
      ConsumeBatch();
      if (!options_.streaming && AllPartitionsDone()) break;
    }
    std::lock_guard<std::mutex> lock(mutex_);
    finished_ = true;
    if (!chunks_.empty()) chunks_.back().closed = true;
    shared_->Wake();
  }

  bool Stopping() {
    std::lock_guard<std::mutex> lock(mutex_);
    return stop_;
  }

  // Waits while the buffered rows fill the backlog, with the partitions paused. False on stop.
  bool WaitForRoom() {
    std::unique_lock<std::mutex> lock(mutex_);
    if (buffered_ < options_.backlog) return !stop_;
    std::vector<RdKafka::TopicPartition*> paused = AssignedList();
    lock.unlock();
    consumer_->pause(paused);
    lock.lock();
    cv_.wait(lock, [&] { return stop_ || buffered_ < options_.backlog / 2; });
    lock.unlock();
    consumer_->resume(paused);
    RdKafka::TopicPartition::destroy(paused);
    lock.lock();
    return !stop_;
  }

  std::vector<RdKafka::TopicPartition*> AssignedList() const {
    std::vector<RdKafka::TopicPartition*> list;
    for (int32_t p : assigned_) list.push_back(RdKafka::TopicPartition::create(options_.topic, p));
    return list;
  }

  // Assigns the topic's partitions that are this reader's and not assigned yet.
  absl::Status AssignNewPartitions(bool& warned_missing) {
    RdKafka::Metadata* raw = nullptr;
    std::string error;
    std::unique_ptr<RdKafka::Topic> topic(RdKafka::Topic::create(consumer_.get(), options_.topic, nullptr, error));
    RdKafka::ErrorCode code = consumer_->metadata(false, topic.get(), &raw, 5000);
    std::unique_ptr<RdKafka::Metadata> metadata(raw);
    if (code != RdKafka::ERR_NO_ERROR) return absl::OkStatus();  // the broker is not there yet: retried
    std::vector<int32_t> fresh;
    for (const RdKafka::TopicMetadata* t : *metadata->topics()) {
      if (t->topic() != options_.topic) continue;
      if (t->err() == RdKafka::ERR_UNKNOWN_TOPIC_OR_PART || t->partitions()->empty()) {
        if (!options_.streaming) {
          return absl::NotFoundError(fmt::format("topic {} does not exist", options_.topic));
        }
        if (!warned_missing) {
          std::fprintf(stderr, "deltaflow: %s: topic %s does not exist yet; waiting for it\n", options_.name.c_str(),
                       options_.topic.c_str());
          warned_missing = true;
        }
        return absl::OkStatus();
      }
      if (t->err() == RdKafka::ERR_TOPIC_AUTHORIZATION_FAILED) {
        return absl::PermissionDeniedError(fmt::format("not authorized to read topic {}", options_.topic));
      }
      for (const RdKafka::PartitionMetadata* p : *t->partitions()) {
        int32_t id = p->id();
        if (id % count_ != index_ || assigned_.count(id) > 0) continue;
        fresh.push_back(id);
      }
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      metadata_seen_ = true;
    }
    if (fresh.empty()) return absl::OkStatus();
    std::sort(fresh.begin(), fresh.end());
    std::vector<RdKafka::TopicPartition*> list;
    for (int32_t p : fresh) {
      int64_t start = default_start_;
      if (auto it = seek_.find(p); it != seek_.end()) {
        start = it->second;
      } else if (options_.start_from_timestamp_ms) {
        start = *options_.start_from_timestamp_ms;  // resolved by offsetsForTimes below
      }
      list.push_back(RdKafka::TopicPartition::create(options_.topic, p, start));
    }
    if (options_.start_from_timestamp_ms) {
      std::vector<RdKafka::TopicPartition*> by_time;
      for (RdKafka::TopicPartition* tp : list) {
        if (seek_.count(tp->partition()) == 0) by_time.push_back(tp);
      }
      if (!by_time.empty()) {
        RdKafka::ErrorCode ec = consumer_->offsetsForTimes(by_time, 10000);
        if (ec != RdKafka::ERR_NO_ERROR) {
          RdKafka::TopicPartition::destroy(list);
          return absl::OkStatus();  // retried at the next refresh
        }
        // No message at or after the timestamp: start at the end.
        for (RdKafka::TopicPartition* tp : by_time) {
          if (tp->offset() < 0) tp->set_offset(RdKafka::Topic::OFFSET_END);
        }
      }
    }
    if (!options_.streaming) {
      // Static: read up to the end each partition has now.
      for (int32_t p : fresh) {
        int64_t low = 0, high = 0;
        if (consumer_->query_watermark_offsets(options_.topic, p, &low, &high, 10000) != RdKafka::ERR_NO_ERROR) {
          RdKafka::TopicPartition::destroy(list);
          return absl::UnavailableError(fmt::format("cannot read the end offsets of topic {}", options_.topic));
        }
        std::lock_guard<std::mutex> lock(mutex_);
        stop_at_[p] = high;
        if (high <= low) done_.insert(p);
      }
    }
    RdKafka::Error* failure = consumer_->incremental_assign(list);
    RdKafka::TopicPartition::destroy(list);
    if (failure != nullptr) {
      absl::Status s = absl::InternalError(fmt::format("assigning partitions failed: {}", failure->str()));
      delete failure;
      return s;
    }
    std::lock_guard<std::mutex> lock(mutex_);
    for (int32_t p : fresh) assigned_.insert(p);
    assigned_count_ = assigned_.size();
    return absl::OkStatus();
  }

  bool AllPartitionsDone() {
    std::lock_guard<std::mutex> lock(mutex_);
    return metadata_seen_ && done_.size() >= assigned_.size();
  }

  // Consumes what librdkafka has (up to a batch; when it has nothing, waits for the first
  // message, never for a full batch), parses it into staged chunks, then hands them over
  // under one lock.
  void ConsumeBatch() {
    ssize_t n = rd_kafka_consume_batch_queue(queue_, 0, batch_.data(), batch_.size());
    if (n == 0) {
      rd_kafka_message_t* first = rd_kafka_consume_queue(queue_, kConsumeTimeoutMs);
      if (first == nullptr) return;
      batch_[0] = first;
      ssize_t more = rd_kafka_consume_batch_queue(queue_, 0, batch_.data() + 1, batch_.size() - 1);
      n = 1 + std::max<ssize_t>(more, 0);
    }
    if (n <= 0) return;
    staged_.clear();
    staged_.emplace_back();
    for (ssize_t i = 0; i < n; ++i) {
      Handle(*batch_[static_cast<size_t>(i)]);
      rd_kafka_message_destroy(batch_[static_cast<size_t>(i)]);
    }
    std::lock_guard<std::mutex> lock(mutex_);
    bool was_empty = buffered_ == 0;
    for (Chunk& part : staged_) {
      if (part.rows.empty() && part.next_offsets.empty() && part.errors.empty() && !part.closed) continue;
      Chunk& chunk = OpenChunk();
      buffered_ += part.rows.size();
      std::move(part.rows.begin(), part.rows.end(), std::back_inserter(chunk.rows));
      chunk.keyed.insert(chunk.keyed.end(), part.keyed.begin(), part.keyed.end());
      for (const auto& [partition, next] : part.next_offsets) chunk.next_offsets[partition] = next;
      std::move(part.errors.begin(), part.errors.end(), std::back_inserter(chunk.errors));
      chunk.closed = part.closed;
    }
    if (was_empty && buffered_ > 0) shared_->Wake();
  }

  // Parses one message into the last staged chunk.
  void Handle(const rd_kafka_message_t& message) {
    switch (message.err) {
      case RD_KAFKA_RESP_ERR_NO_ERROR:
        break;
      case RD_KAFKA_RESP_ERR__PARTITION_EOF: {
        std::lock_guard<std::mutex> lock(mutex_);
        if (!options_.streaming) done_.insert(message.partition);
        return;
      }
      case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
      case RD_KAFKA_RESP_ERR__AUTHENTICATION: {
        std::lock_guard<std::mutex> lock(mutex_);
        fatal_ = absl::PermissionDeniedError(fmt::format("kafka: {}", rd_kafka_message_errstr(&message)));
        return;
      }
      default:
        return;  // transient (a broker going away and coming back): librdkafka retries by itself
    }
    int32_t partition = message.partition;
    int64_t offset = message.offset;
    if (!options_.streaming) {
      std::lock_guard<std::mutex> lock(mutex_);
      auto it = stop_at_.find(partition);
      if (it != stop_at_.end() && offset >= it->second) {
        done_.insert(partition);  // written after the start: not part of a static read
        return;
      }
    }
    Chunk* chunk = &staged_.back();
    chunk->next_offsets[partition] = offset + 1;
    std::string_view payload(static_cast<const char*>(message.payload), message.payload != nullptr ? message.len : 0);
    std::string_view key(static_cast<const char*>(message.key), message.key != nullptr ? message.key_len : 0);
    bool has_key = message.key != nullptr;
    if (message.payload != nullptr && payload == kCommitLiteral) {
      chunk->closed = true;
      staged_.emplace_back();
      return;
    }
    absl::Status status;
    bool keyed = false;
    builder_.Clear();
    switch (options_.format) {
      case SourceFormat::kRaw:
      case SourceFormat::kPlaintext: {
        bool text = options_.format == SourceFormat::kPlaintext;
        if (!has_key) {
          builder_.Null();
        } else if (text) {
          status = io::ParsePlaintext(key, builder_);
        } else {
          io::ParseRaw(key, builder_);
        }
        if (!status.ok()) {
          status = absl::InvalidArgumentError(fmt::format("the message key {}", std::string(status.message())));
          break;
        }
        if (message.payload == nullptr) {
          builder_.Null();
        } else if (text) {
          status = io::ParsePlaintext(payload, builder_);
        } else {
          io::ParseRaw(payload, builder_);
        }
        keyed = has_key && !options_.autogenerate_key;
        break;
      }
      case SourceFormat::kJson:
        if (payload.empty() && !has_key) return;  // nothing to read: not a row
        status = json_.Parse(payload, builder_);
        keyed = !options_.primary_key.empty();
        break;
      case SourceFormat::kDebeziumPostgres:
      case SourceFormat::kDebeziumMongo: {
        if (payload.empty()) return;  // a tombstone
        DebeziumEvent event = DebeziumEvent::kNone;
        status = ParseDebezium(payload, key, event);
        if (!status.ok()) break;
        if (event == DebeziumEvent::kNone) return;  // not a change of rows
        // The row's id: the schema's primary key, else the message key (Debezium's key is the
        // database's primary key), else the message's position (insertions only).
        Row row = builder_.Finish();
        RowBuilder& kb = key_builder_;
        kb.Clear();
        bool by_key = true;
        if (!options_.primary_key.empty()) {
          if (event == DebeziumEvent::kDeletion) {
            for (ValueView v : row.view().values()) kb.Value(v);
          } else {
            for (int k : options_.primary_key) kb.Value(row.view()[static_cast<size_t>(k)]);
          }
        } else if (!debezium_key_text_.empty()) {
          kb.String(debezium_key_text_);
        } else if (event == DebeziumEvent::kDeletion) {
          status = absl::InvalidArgumentError("a deletion without a message key or a schema primary key names no row");
          break;
        } else {
          kb.String(options_.topic).Int(partition).Int(offset);
          by_key = false;
        }
        Key id = value::IdFromValues(kb.Finish().values());
        chunk->rows.push_back({id, std::move(row), event == DebeziumEvent::kDeletion ? -1 : 1});
        chunk->keyed.push_back(by_key);
        return;
      }
      case SourceFormat::kDsv: {
        if (payload.empty()) return;
        std::string_view record = payload;
        if (!record.empty() && record.back() == '\n') record.remove_suffix(1);
        absl::StatusOr<io::DsvParser::Outcome> outcome = dsv_.Parse(record, header_, builder_);
        if (!outcome.ok()) {
          status = outcome.status();
        } else if (*outcome == io::DsvParser::Outcome::kSkipped) {
          return;
        }
        keyed = !options_.primary_key.empty();
        break;
      }
    }
    if (!status.ok()) {
      chunk->errors.push_back({options_.name, fmt::format("topic {} partition {} offset {}: {}", options_.topic, partition,
                                                          offset, std::string(status.message()))});
      return;
    }
    if (options_.with_metadata) {
      metadata_.clear();
      AppendMetadata(message, metadata_);
      builder_.CanonicalJsonText(metadata_);
    }
    Row row = builder_.Finish();
    RowBuilder& kb = key_builder_;
    kb.Clear();
    if (keyed && (options_.format == SourceFormat::kRaw || options_.format == SourceFormat::kPlaintext)) {
      kb.Value(row[0]);
    } else if (keyed) {
      for (int k : options_.primary_key) kb.Value(row[static_cast<size_t>(k)]);
    } else {
      kb.String(options_.topic).Int(partition).Int(offset);
    }
    Key id = value::IdFromValues(kb.Finish().values());
    chunk->rows.push_back({id, std::move(row), 1});
    chunk->keyed.push_back(keyed);
  }

  // The chunk rows go to now (under `mutex_`).
  Chunk& OpenChunk() {
    if (chunks_.empty() || chunks_.back().closed) chunks_.emplace_back();
    return chunks_.back();
  }

  const KafkaSourceOptions& options_;
  std::shared_ptr<Shared> shared_;
  int index_;
  int count_;
  std::map<int32_t, int64_t> seek_;
  internal::EventHandler events_;
  int64_t default_start_;
  std::unique_ptr<RdKafka::KafkaConsumer> consumer_;
  rd_kafka_queue_t* queue_ = nullptr;  // the consumer's queue, for batch consumption
  std::thread thread_;

  // Used by the reader thread only.
  io::JsonParser json_{options_.columns, options_.json_paths};

  // A Debezium event into `builder_`: the row of `after` (c, r, u), or, for d, the values of the
  // key columns (`deletion` set). Leaves `builder_` empty for an event that changes no row.
  enum class DebeziumEvent : uint8_t { kNone, kRow, kDeletion };
  absl::Status ParseDebezium(std::string_view payload, std::string_view key, DebeziumEvent& event) {
    // The message key's payload, canonical: it names the row when the schema has no key.
    debezium_key_text_.clear();
    if (!key.empty()) {
      simdjson::padded_string key_text(key);
      simdjson::dom::element k;
      if (debezium_key_parser_.parse(key_text).get(k) == simdjson::SUCCESS) {
        simdjson::dom::element kp;
        debezium_key_text_ = simdjson::minify(k.is_object() && k["payload"].get(kp) == simdjson::SUCCESS ? kp : k);
      } else {
        debezium_key_text_ = std::string(key);
      }
    }
    simdjson::padded_string text(payload);
    simdjson::dom::element root;
    if (debezium_parser_.parse(text).get(root) != simdjson::SUCCESS || !root.is_object()) {
      return absl::InvalidArgumentError(fmt::format("received message is not json: {}", Clip(payload)));
    }
    simdjson::dom::element body;
    if (root["payload"].get(body) != simdjson::SUCCESS) {
      return absl::InvalidArgumentError("there is no payload at the top level of value json");
    }
    if (body.is_null()) return absl::OkStatus();
    std::string_view op;
    if (body["op"].get_string().get(op) != simdjson::SUCCESS) {
      return absl::InvalidArgumentError("incorrect type of payload.op field or it is missing");
    }
    auto object_text = [&](std::string_view field, std::string& out) -> bool {
      simdjson::dom::element e;
      if (body[field].get(e) != simdjson::SUCCESS || e.is_null()) return false;
      if (e.is_string()) {
        out = std::string(e.get_string().value());  // MongoDB: the document as a JSON string
      } else {
        out = simdjson::minify(e);
      }
      return true;
    };
    if (op == "c" || op == "r" || op == "u") {
      if (!object_text("after", debezium_text_)) return absl::InvalidArgumentError(fmt::format("payload.after is missing in a '{}' event", op));
      event = DebeziumEvent::kRow;
      return json_.Parse(debezium_text_, builder_);
    }
    if (op != "d") return absl::InvalidArgumentError(fmt::format("unknown debezium operation \"{}\"", op));
    event = DebeziumEvent::kDeletion;
    if (options_.primary_key.empty()) return absl::OkStatus();  // the message key names the row
    // The key's payload names the row; else the before image does.
    if (!key.empty()) {
      simdjson::padded_string key_text(key);
      simdjson::dom::element k;
      if (debezium_key_parser_.parse(key_text).get(k) == simdjson::SUCCESS && k.is_object()) {
        simdjson::dom::element kp;
        if (k["payload"].get(kp) != simdjson::SUCCESS) kp = k;
        if (kp.is_object()) {
          if (options_.format == SourceFormat::kDebeziumMongo && key_json_columns_.size() == 1) {
            // MongoDB keys hold the document id under "id": it is the key column's value.
            simdjson::dom::element id;
            if (kp["id"].get(id) == simdjson::SUCCESS) {
              std::string one = fmt::format("{{\"{}\":{}}}", key_json_columns_[0].name, simdjson::minify(id));
              if (key_json_.Parse(one, builder_).ok()) return absl::OkStatus();
              builder_.Clear();
            }
          }
          if (key_json_.Parse(simdjson::minify(kp), builder_).ok()) return absl::OkStatus();
          builder_.Clear();
        }
      }
    }
    if (!object_text("before", debezium_text_)) {
      return absl::InvalidArgumentError("a deletion names no row: no message key with the primary key, no payload.before");
    }
    if (absl::Status s = key_json_.Parse(debezium_text_, builder_); !s.ok()) {
      return absl::InvalidArgumentError(fmt::format("a deletion names no row: {}", std::string(s.message())));
    }
    return absl::OkStatus();
  }

  static std::string Clip(std::string_view text) {
    return std::string(text.substr(0, 200)) + (text.size() > 200 ? "..." : "");
  }

  std::vector<io::Column> KeyColumns() const {
    std::vector<io::Column> out;
    for (int k : options_.primary_key) out.push_back(options_.columns[static_cast<size_t>(k)]);
    return out;
  }
  std::vector<io::Column> key_json_columns_ = KeyColumns();
  io::JsonParser key_json_{key_json_columns_, {}};
  simdjson::dom::parser debezium_parser_;
  simdjson::dom::parser debezium_key_parser_;
  std::string debezium_text_;
  std::string debezium_key_text_;
  io::DsvParser dsv_{options_.columns, io::DsvDialect{options_.delimiter}, true};  // the first message is the header
  std::vector<std::string> header_;
  RowBuilder builder_;
  RowBuilder key_builder_;
  std::string metadata_;
  size_t assigned_count_ = 0;
  std::vector<rd_kafka_message_t*> batch_ = std::vector<rd_kafka_message_t*>(kConsumeBatch);
  std::vector<Chunk> staged_;  // a batch's chunks, before they are handed over

  mutable std::mutex mutex_;
  std::condition_variable cv_;
  bool stop_ = false;
  bool finished_ = false;
  bool metadata_seen_ = false;
  absl::Status fatal_;
  std::deque<Chunk> chunks_;
  size_t buffered_ = 0;
  std::set<int32_t> assigned_;
  std::map<int32_t, int64_t> stop_at_;  // static mode: the end offset of each partition at the start
  std::set<int32_t> done_;              // static mode: partitions read to their end
};

KafkaSource::KafkaSource(KafkaSourceOptions options)
    : options_(std::move(options)), shared_(std::make_shared<Shared>()) {}

KafkaSource::~KafkaSource() { Close(); }

absl::StatusOr<std::unique_ptr<KafkaSource>> KafkaSource::Make(KafkaSourceOptions options) {
  if (FindSetting(options.settings, "bootstrap.servers").empty()) {
    return absl::InvalidArgumentError("rdkafka settings must name the brokers: 'bootstrap.servers' is missing");
  }
  if (options.topic.empty()) return absl::InvalidArgumentError("the topic name must not be empty");
  if (options.parallel_readers < 0) {
    return absl::InvalidArgumentError(fmt::format("parallel_readers must be positive, got {}", options.parallel_readers));
  }
  for (int k : options.primary_key) {
    if (k < 0 || k >= static_cast<int>(options.columns.size())) {
      return absl::InvalidArgumentError(fmt::format("primary key column {} out of range", k));
    }
  }
  if (options.backlog == 0) options.backlog = 1;
  return std::unique_ptr<KafkaSource>(new KafkaSource(std::move(options)));
}

absl::Status KafkaSource::Open(const io::SourceContext& context) {
  // A static read is a snapshot, like reading a file: running it again reads the same
  // messages, so it leaves the group's offsets alone.
  commit_to_group_ = options_.streaming && !FindSetting(options_.settings, "group.id").empty();
  int readers = options_.parallel_readers > 0 ? options_.parallel_readers : static_cast<int>(context.workers);
  readers = std::max(readers, 1);
  // Never more readers than partitions: ask the broker how many there are (if it answers).
  {
    internal::EventHandler events(options_.name);
    auto conf = internal::MakeConf(options_.settings, {}, {{"group.id", "deltaflow-metadata"}}, &events);
    if (!conf.ok()) return conf.status();
    std::string error;
    std::unique_ptr<RdKafka::KafkaConsumer> probe(RdKafka::KafkaConsumer::create(conf->get(), error));
    if (!probe) {
      return absl::InvalidArgumentError(
          fmt::format("cannot create a Kafka consumer: {}", internal::Redacted(error, options_.settings)));
    }
    RdKafka::Metadata* raw = nullptr;
    std::unique_ptr<RdKafka::Topic> topic(RdKafka::Topic::create(probe.get(), options_.topic, nullptr, error));
    if (probe->metadata(false, topic.get(), &raw, 5000) == RdKafka::ERR_NO_ERROR) {
      std::unique_ptr<RdKafka::Metadata> metadata(raw);
      for (const RdKafka::TopicMetadata* t : *metadata->topics()) {
        if (t->topic() == options_.topic && !t->partitions()->empty()) {
          readers = std::min(readers, static_cast<int>(t->partitions()->size()));
        }
      }
    }
    probe->close();
    if (absl::Status s = events.Fatal(); !s.ok()) return s;
  }
  std::string group_id = RandomGroupId();
  for (int i = 0; i < readers; ++i) {
    std::map<int32_t, int64_t> seek;
    for (const auto& [partition, offset] : seek_) {
      if (partition % readers == i) seek[partition] = offset;
    }
    readers_.push_back(std::make_unique<Reader>(options_, shared_, i, readers, std::move(seek)));
    if (absl::Status s = readers_.back()->Open(group_id); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::StatusOr<io::PollResult> KafkaSource::Poll(std::vector<io::Change>& out, size_t max_rows) {
  // A static read is one commit: rows are gathered until every reader is done.
  std::vector<io::Change>& target = options_.streaming ? out : static_rows_;
  absl::StatusOr<io::PollResult> result = Take(target, options_.streaming ? max_rows : SIZE_MAX);
  if (!options_.streaming && result.ok() && *result == io::PollResult::kFinished) {
    for (io::Change& change : static_rows_) out.push_back(std::move(change));
    static_rows_.clear();
  }
  return result;
}

absl::StatusOr<io::PollResult> KafkaSource::Take(std::vector<io::Change>& out, size_t max_rows) {
  bool finished = true;
  for (auto& reader : readers_) {
    if (absl::Status s = reader->Fatal(); !s.ok()) return s;
    Reader::Chunk chunk;
    size_t room = max_rows > out.size() ? max_rows - out.size() : 0;
    if (reader->Take(chunk, room)) {
      for (size_t i = 0; i < chunk.rows.size(); ++i) {
        io::Change& change = chunk.rows[i];
        if (change.diff < 0) {
          // A deletion (Debezium): the row of that id leaves, if there is one.
          auto it = live_.find(change.id);
          if (it != live_.end()) {
            out.push_back({change.id, std::move(it->second), -1});
            live_.erase(it);
          }
          continue;
        }
        if (chunk.keyed[i]) {
          // An upsert: a later message with the same id replaces the row.
          auto [it, inserted] = live_.try_emplace(change.id, change.row);
          if (!inserted) {
            out.push_back({change.id, std::move(it->second), -1});
            it->second = change.row;
          }
        }
        out.push_back(std::move(change));
      }
      for (const auto& [partition, next] : chunk.next_offsets) {
        offsets_[PartitionName(options_.topic, partition)] = io::Offset{static_cast<uint64_t>(next), 0, 0};
      }
      for (auto& e : chunk.errors) errors_.push_back(std::move(e));
    }
    finished = finished && reader->Finished();
  }
  return finished ? io::PollResult::kFinished : io::PollResult::kMore;
}

io::Offsets KafkaSource::CurrentOffsets() const { return offsets_; }

absl::Status KafkaSource::Seek(const io::Offsets& offsets) {
  std::string prefix = options_.topic + "/";
  for (const auto& [name, offset] : offsets) {
    if (name.compare(0, prefix.size(), prefix) != 0) {
      return absl::InvalidArgumentError(fmt::format("offset {} is not of topic {}", name, options_.topic));
    }
    int32_t partition = 0;
    std::string_view digits = std::string_view(name).substr(prefix.size());
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), partition);
    if (ec != std::errc() || end != digits.data() + digits.size()) {
      return absl::InvalidArgumentError(fmt::format("offset {} does not name a partition", name));
    }
    seek_[partition] = static_cast<int64_t>(offset.position);
    offsets_[name] = offset;
  }
  return absl::OkStatus();
}

void KafkaSource::Restore(const std::vector<io::Change>& batch) {
  io::RestoreRowsById(batch, live_);
}

absl::Status KafkaSource::Commit(const io::Offsets& offsets) {
  if (!commit_to_group_) return absl::OkStatus();
  for (auto& reader : readers_) reader->Commit(offsets);
  return absl::OkStatus();
}

void KafkaSource::DrainErrors(std::vector<io::SourceError>& errors) {
  for (auto& e : errors_) errors.push_back(std::move(e));
  errors_.clear();
}

void KafkaSource::SetWakeup(std::function<void()> wakeup) {
  std::lock_guard<std::mutex> lock(shared_->mutex);
  shared_->wakeup = std::move(wakeup);
}

void KafkaSource::Close() {
  for (auto& reader : readers_) reader->Stop();
  readers_.clear();
}

}  // namespace deltaflow::connectors::kafka
