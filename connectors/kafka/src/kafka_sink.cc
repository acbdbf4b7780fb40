#include "deltaflow/connectors/kafka/kafka_sink.h"

#include <algorithm>
#include <mutex>

#include "client_internal.h"
#include "deltaflow/io/format.h"
#include "fmt/format.h"

namespace deltaflow::connectors::kafka {

namespace {

// Keeps the first delivery failure librdkafka reports (on its own thread).
class DeliveryReports final : public RdKafka::DeliveryReportCb {
 public:
  void dr_cb(RdKafka::Message& message) override {
    if (message.err() == RdKafka::ERR_NO_ERROR) return;
    std::lock_guard<std::mutex> lock(mutex_);
    if (!failure_.empty()) return;
    failure_ = fmt::format("delivery to topic {} failed: {}", message.topic_name(), message.errstr());
  }
  std::string Failure() {
    std::lock_guard<std::mutex> lock(mutex_);
    return failure_;
  }

 private:
  std::mutex mutex_;
  std::string failure_;
};

}  // namespace

struct KafkaSink::Producer {
  explicit Producer(const std::string& name) : events(name) {}
  internal::EventHandler events;
  DeliveryReports reports;
  std::unique_ptr<RdKafka::Producer> handle;
};

absl::StatusOr<std::unique_ptr<KafkaSink>> KafkaSink::Make(KafkaSinkOptions options) {
  if (FindSetting(options.settings, "bootstrap.servers").empty()) {
    return absl::InvalidArgumentError("rdkafka settings must name the brokers: 'bootstrap.servers' is missing");
  }
  if (options.topic.empty() && options.topic_column < 0) {
    return absl::InvalidArgumentError("the topic name must not be empty");
  }
  int arity = static_cast<int>(options.columns.size());
  for (int column : {options.topic_column, options.key_column, options.value_column}) {
    if (column >= arity) return absl::InvalidArgumentError(fmt::format("column {} out of range", column));
  }
  if ((options.format == SinkFormat::kPlaintext || options.format == SinkFormat::kRaw) && options.value_column < 0) {
    return absl::InvalidArgumentError("the plaintext and raw formats need the value column");
  }
  absl::StatusOr<std::unique_ptr<Producer>> producer = MakeProducer(options, {});
  if (!producer.ok()) return producer.status();
  return std::unique_ptr<KafkaSink>(new KafkaSink(std::move(options), std::move(*producer)));
}

absl::StatusOr<std::unique_ptr<KafkaSink::Producer>> KafkaSink::MakeProducer(const KafkaSinkOptions& options,
                                                                             const Settings& overrides) {
  auto producer = std::make_unique<KafkaSink::Producer>(options.name);
  // Idempotent by default: a retried send is never written twice.
  Settings defaults = {{"enable.idempotence", "true"}};
  auto conf = internal::MakeConf(options.settings, defaults, overrides, &producer->events);
  if (!conf.ok()) {
    return absl::Status(conf.status().code(), fmt::format("{}: {}", options.name, std::string(conf.status().message())));
  }
  std::string error;
  if ((*conf)->set("dr_cb", &producer->reports, error) != RdKafka::Conf::CONF_OK) {
    return absl::InternalError(fmt::format("cannot install the delivery report handler: {}", error));
  }
  producer->handle.reset(RdKafka::Producer::create(conf->get(), error));
  if (!producer->handle) {
    return absl::InvalidArgumentError(fmt::format("{}: cannot create a Kafka producer: {}", options.name,
                                                  internal::Redacted(error, options.settings)));
  }
  return producer;
}

namespace {
constexpr int kTransactionTimeoutMs = 60000;
}  // namespace

absl::StatusOr<bool> KafkaSink::StartTransactions(const std::string& identity) {
  if (options_.topic_column >= 0) return false;  // no fixed topic to keep the frontier in
  group_ = "deltaflow-" + identity;
  // A transaction stays open for a checkpoint interval: allow long ones (the broker's default
  // ceiling, transaction.max.timeout.ms, is 15 minutes) unless the settings say otherwise.
  Settings overrides = {{"transactional.id", group_}};
  if (FindSetting(options_.settings, "transaction.timeout.ms").empty()) {
    overrides.emplace_back("transaction.timeout.ms", "900000");
  }
  absl::StatusOr<std::unique_ptr<Producer>> producer = MakeProducer(options_, overrides);
  if (!producer.ok()) return producer.status();
  if (producer_ && producer_->handle) producer_->handle->flush(1000);
  producer_ = std::move(*producer);
  // Fences off a producer of an earlier run with this id, and settles its open transaction.
  if (absl::Status s = TransactionError(producer_->handle->init_transactions(kTransactionTimeoutMs), "starting");
      !s.ok()) {
    return s;
  }
  if (absl::Status s = TransactionError(producer_->handle->begin_transaction(), "beginning"); !s.ok()) return s;
  absl::StatusOr<std::unique_ptr<RdKafka::KafkaConsumer>> consumer = GroupConsumer();
  if (!consumer.ok()) return consumer.status();
  group_metadata_.reset((*consumer)->groupMetadata());
  (*consumer)->close();
  transactional_ = true;
  return true;
}

absl::StatusOr<std::unique_ptr<RdKafka::KafkaConsumer>> KafkaSink::GroupConsumer() const {
  internal::EventHandler events(options_.name);
  auto conf = internal::MakeConf(options_.settings, {}, {{"group.id", group_}, {"enable.auto.commit", "false"}},
                                 &events);
  if (!conf.ok()) return conf.status();
  std::string error;
  std::unique_ptr<RdKafka::KafkaConsumer> consumer(RdKafka::KafkaConsumer::create(conf->get(), error));
  if (!consumer) {
    return absl::InvalidArgumentError(fmt::format("{}: cannot create a Kafka consumer: {}", options_.name,
                                                  internal::Redacted(error, options_.settings)));
  }
  return consumer;
}

absl::StatusOr<io::Time> KafkaSink::CommittedFrontier() {
  if (!transactional_) return io::Time{0};
  absl::StatusOr<std::unique_ptr<RdKafka::KafkaConsumer>> consumer = GroupConsumer();
  if (!consumer.ok()) return consumer.status();
  std::vector<RdKafka::TopicPartition*> partitions = {RdKafka::TopicPartition::create(options_.topic, 0)};
  RdKafka::ErrorCode code = (*consumer)->committed(partitions, kTransactionTimeoutMs);
  int64_t offset = partitions[0]->offset();
  RdKafka::TopicPartition::destroy(partitions);
  (*consumer)->close();
  if (code != RdKafka::ERR_NO_ERROR) {
    return absl::UnavailableError(fmt::format("{}: cannot read the committed frontier of {}: {}", options_.name,
                                              group_, RdKafka::err2str(code)));
  }
  return offset > 0 ? static_cast<io::Time>(offset) : io::Time{0};
}

absl::Status KafkaSink::TransactionError(RdKafka::Error* error, std::string_view what) {
  if (error == nullptr) return absl::OkStatus();
  std::unique_ptr<RdKafka::Error> owned(error);
  std::string reason = owned->str();
  if (owned->code() == RdKafka::ERR__FENCED || owned->code() == RdKafka::ERR_PRODUCER_FENCED) {
    reason += " (another run of this pipeline with the same persisted state took over)";
  }
  if (owned->txn_requires_abort()) {
    delete producer_->handle->abort_transaction(kTransactionTimeoutMs);
  }
  return absl::UnavailableError(fmt::format("{}: {} a Kafka transaction failed: {}", options_.name, what, reason));
}

absl::Status KafkaSink::Commit(io::Time frontier) {
  if (!transactional_ || uncommitted_ == 0) return absl::OkStatus();
  if (absl::Status s = Flush(); !s.ok()) return s;
  std::vector<RdKafka::TopicPartition*> offsets = {
      RdKafka::TopicPartition::create(options_.topic, 0, static_cast<int64_t>(frontier))};
  RdKafka::Error* error =
      producer_->handle->send_offsets_to_transaction(offsets, group_metadata_.get(), kTransactionTimeoutMs);
  RdKafka::TopicPartition::destroy(offsets);
  if (absl::Status s = TransactionError(error, "recording the frontier of"); !s.ok()) return s;
  if (absl::Status s = TransactionError(producer_->handle->commit_transaction(kTransactionTimeoutMs), "committing");
      !s.ok()) {
    return s;
  }
  uncommitted_ = 0;
  return TransactionError(producer_->handle->begin_transaction(), "beginning");
}

KafkaSink::KafkaSink(KafkaSinkOptions options, std::unique_ptr<Producer> producer)
    : options_(std::move(options)), producer_(std::move(producer)) {}

KafkaSink::~KafkaSink() {
  // Whatever the run did not flush (a failed run) is given a moment, then dropped; an open
  // transaction is aborted (a restart gives its messages again).
  if (producer_ && producer_->handle) {
    if (transactional_) {
      delete producer_->handle->abort_transaction(5000);
    } else {
      producer_->handle->flush(1000);
    }
  }
}

absl::Status KafkaSink::DeliveryError() {
  if (absl::Status s = producer_->events.Fatal(); !s.ok()) return Annotate(s);
  std::string failure = producer_->reports.Failure();
  if (failure.empty()) return absl::OkStatus();
  return absl::UnavailableError(fmt::format("{}: {}", options_.name, failure));
}

absl::Status KafkaSink::Annotate(const absl::Status& status) const {
  return absl::Status(status.code(), fmt::format("{}: {}", options_.name, std::string(status.message())));
}

absl::Status KafkaSink::Write(io::Time time, std::vector<io::Change>& changes) {
  if (!options_.sort_by.empty()) {
    std::stable_sort(changes.begin(), changes.end(), [&](const io::Change& a, const io::Change& b) {
      for (int column : options_.sort_by) {
        int c = value::CompareValues(a.row[static_cast<size_t>(column)], b.row[static_cast<size_t>(column)]);
        if (c != 0) return c < 0;
      }
      return false;
    });
  }
  // Every retraction first, then every insertion: per message key, the old row leaves first.
  for (int pass = 0; pass < 2; ++pass) {
    for (const io::Change& change : changes) {
      if ((change.diff < 0) != (pass == 0)) continue;
      int64_t sign = change.diff < 0 ? -1 : 1;
      for (int64_t n = 0; n < change.diff * sign; ++n) {
        if (absl::Status s = Produce(change, time, sign); !s.ok()) return s;
      }
    }
  }
  if (transactional_) uncommitted_ += changes.size();
  producer_->handle->poll(0);  // serve delivery reports
  return DeliveryError();
}

absl::Status KafkaSink::Produce(const io::Change& change, io::Time time, int64_t diff) {
  value::RowView row = change.row.view();
  const std::string* topic = &options_.topic;
  if (options_.topic_column >= 0) {
    value::ValueView v = row[static_cast<size_t>(options_.topic_column)];
    if (v.kind() != value::ValueKind::kString || v.AsString().empty()) {
      return absl::InvalidArgumentError(
          fmt::format("{}: the topic column holds {}, not a topic name", options_.name, v.DebugString()));
    }
    row_topic_ = v.AsString();
    topic = &row_topic_;
  }
  // The message key: the key column, else the row's id (16 bytes, little-endian).
  key_.clear();
  if (options_.key_column >= 0) {
    value::ValueView v = row[static_cast<size_t>(options_.key_column)];
    if (v.kind() == value::ValueKind::kString) {
      key_ = v.AsString();
    } else if (v.kind() == value::ValueKind::kBytes) {
      key_.assign(reinterpret_cast<const char*>(v.AsBytes().data()), v.AsBytes().size());
    } else {
      return absl::InvalidArgumentError(
          fmt::format("{}: the key column must hold str or bytes, got {}", options_.name, v.DebugString()));
    }
  } else {
    for (int i = 0; i < 8; ++i) key_ += static_cast<char>(change.id.low() >> (8 * i));
    for (int i = 0; i < 8; ++i) key_ += static_cast<char>(change.id.high() >> (8 * i));
  }
  payload_.clear();
  switch (options_.format) {
    case SinkFormat::kJson:
      io::AppendJsonChange(options_.columns, row, time, diff, payload_);
      break;
    case SinkFormat::kDsv:
      if (!header_sent_) {
        // The stream's first message is its header, as Pathway sends it.
        io::AppendDsvHeader(options_.columns, options_.delimiter, payload_);
        if (absl::Status s = Send(*topic, row, time, diff); !s.ok()) return s;
        header_sent_ = true;
        payload_.clear();
      }
      io::AppendDsvChange(row, time, diff, options_.delimiter, payload_);
      break;
    case SinkFormat::kPlaintext:
    case SinkFormat::kRaw: {
      value::ValueView v = row[static_cast<size_t>(options_.value_column)];
      if (v.kind() == value::ValueKind::kBytes) {
        payload_.assign(reinterpret_cast<const char*>(v.AsBytes().data()), v.AsBytes().size());
      } else if (v.kind() == value::ValueKind::kString) {
        payload_ = v.AsString();
      } else {
        io::AppendText(v, payload_);
      }
      break;
    }
  }
  return Send(*topic, row, time, diff);
}

absl::Status KafkaSink::Send(const std::string& topic, value::RowView row, io::Time time, int64_t diff) {
  RdKafka::Headers* headers = RdKafka::Headers::create();
  text_ = fmt::format("{}", time);
  headers->add("pathway_time", text_);
  text_ = fmt::format("{}", diff);
  headers->add("pathway_diff", text_);
  for (const auto& [name, column] : options_.headers) {
    value::ValueView v = row[static_cast<size_t>(column)];
    if (v.IsNull()) {
      headers->add(name, nullptr, 0);
    } else if (v.kind() == value::ValueKind::kBytes) {
      headers->add(name, v.AsBytes().data(), v.AsBytes().size());
    } else {
      text_.clear();
      io::AppendText(v, text_);
      headers->add(name, text_);
    }
  }
  while (true) {
    RdKafka::ErrorCode code =
        producer_->handle->produce(topic, RdKafka::Topic::PARTITION_UA, RdKafka::Producer::RK_MSG_COPY,
                                   payload_.data(), payload_.size(), key_.data(), key_.size(), 0, headers, nullptr);
    if (code == RdKafka::ERR_NO_ERROR) return absl::OkStatus();  // librdkafka owns the headers now
    if (code == RdKafka::ERR__QUEUE_FULL) {
      // The local queue is full: let deliveries drain, then try again.
      producer_->handle->poll(10);
      if (absl::Status s = DeliveryError(); !s.ok()) {
        delete headers;
        return s;
      }
      continue;
    }
    delete headers;
    return absl::InvalidArgumentError(
        fmt::format("{}: producing to topic {} failed: {}", options_.name, topic, RdKafka::err2str(code)));
  }
}

absl::Status KafkaSink::Flush() {
  // Every message produced so far acknowledged by the broker (or failed).
  while (producer_->handle->outq_len() > 0) {
    producer_->handle->flush(100);
    if (absl::Status s = DeliveryError(); !s.ok()) return s;
  }
  return DeliveryError();
}

}  // namespace deltaflow::connectors::kafka
