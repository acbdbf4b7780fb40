// What the Kafka source and sink share: librdkafka configuration from a user's settings, and
// the handling of librdkafka's events (logs, errors).
#pragma once

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafkacpp.h>

#include <memory>
#include <mutex>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "deltaflow/connectors/kafka/settings.h"

namespace deltaflow::connectors::kafka::internal {

/// Receives librdkafka's events for one client. Warnings and errors are written to stderr
/// (each kind at most once every few seconds: a broker that is down is reported, not
/// flooded); an error that no retry can cure (a fatal client error, failed authentication,
/// a TLS failure) is kept, and `Fatal` returns it. Called from librdkafka's threads.
class EventHandler final : public RdKafka::EventCb {
 public:
  explicit EventHandler(std::string name) : name_(std::move(name)) {}
  void event_cb(RdKafka::Event& event) override;
  /// The first error that no retry can cure, or OK.
  absl::Status Fatal() const;

 private:
  std::string name_;
  mutable std::mutex mutex_;
  absl::Status fatal_;
  absl::Time last_warning_ = absl::InfinitePast();
  std::string last_warning_text_;
};

/// A librdkafka configuration: `defaults` where the user did not say otherwise (skipped where
/// this librdkafka does not know them), then the user's `settings`, then `forced` (what the
/// connector needs). Fails on an unknown setting or an invalid value, naming the setting but
/// never a secret value.
absl::StatusOr<std::unique_ptr<RdKafka::Conf>> MakeConf(const Settings& settings, const Settings& defaults,
                                                        const Settings& forced, RdKafka::EventCb* events);

/// `message` with every secret value of `settings` replaced by "***" (librdkafka's errors may
/// quote a value).
std::string Redacted(std::string message, const Settings& settings);

}  // namespace deltaflow::connectors::kafka::internal
