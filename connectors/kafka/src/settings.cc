#include <algorithm>
#include <cctype>
#include <cstdio>

#include "client_internal.h"
#include "fmt/format.h"

namespace deltaflow::connectors::kafka {

bool IsSecretSetting(std::string_view name) {
  std::string lower(name);
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  for (std::string_view marker : {"password", "secret", "token", "jaas", "oauthbearer.config", "ssl.key", "keystore"}) {
    if (lower.find(marker) != std::string::npos) return true;
  }
  return false;
}

std::string_view FindSetting(const Settings& settings, std::string_view name) {
  std::string_view found;
  for (const auto& [key, value] : settings) {
    if (key == name) found = value;  // the last one given wins, as in librdkafka
  }
  return found;
}

namespace internal {

std::string Redacted(std::string message, const Settings& settings) {
  for (const auto& [key, value] : settings) {
    if (!IsSecretSetting(key) || value.empty()) continue;
    for (size_t at = message.find(value); at != std::string::npos; at = message.find(value, at + 3)) {
      message.replace(at, value.size(), "***");
    }
  }
  return message;
}

absl::StatusOr<std::unique_ptr<RdKafka::Conf>> MakeConf(const Settings& settings, const Settings& defaults,
                                                        const Settings& forced, RdKafka::EventCb* events) {
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  std::string error;
  auto set = [&](const std::string& key, const std::string& value) -> absl::Status {
    if (conf->set(key, value, error) == RdKafka::Conf::CONF_OK) return absl::OkStatus();
    std::string reason = IsSecretSetting(key) ? "invalid value" : Redacted(error, settings);
    return absl::InvalidArgumentError(fmt::format("rdkafka setting '{}': {}", key, reason));
  };
  for (const auto& [key, value] : defaults) {
    // A default this librdkafka does not know (an older one) is left out.
    if (FindSetting(settings, key).empty() && conf->set(key, value, error) == RdKafka::Conf::CONF_INVALID) {
      return absl::InternalError(fmt::format("rdkafka default '{}={}': {}", key, value, error));
    }
  }
  for (const auto& [key, value] : settings) {
    if (absl::Status s = set(key, value); !s.ok()) return s;
  }
  for (const auto& [key, value] : forced) {
    if (absl::Status s = set(key, value); !s.ok()) return s;
  }
  if (events != nullptr && conf->set("event_cb", events, error) != RdKafka::Conf::CONF_OK) {
    return absl::InternalError(fmt::format("cannot install the event handler: {}", error));
  }
  return conf;
}

void EventHandler::event_cb(RdKafka::Event& event) {
  if (event.type() != RdKafka::Event::EVENT_ERROR && event.type() != RdKafka::Event::EVENT_LOG) return;
  if (event.type() == RdKafka::Event::EVENT_LOG && event.severity() > RdKafka::Event::EVENT_SEVERITY_WARNING) return;
  std::string text = event.type() == RdKafka::Event::EVENT_ERROR
                         ? fmt::format("{}: {}", RdKafka::err2str(event.err()), event.str())
                         : event.str();
  std::lock_guard<std::mutex> lock(mutex_);
  if (event.type() == RdKafka::Event::EVENT_ERROR) {
    RdKafka::ErrorCode code = event.err();
    bool incurable = event.fatal() || code == RdKafka::ERR__AUTHENTICATION || code == RdKafka::ERR__SSL ||
                     code == RdKafka::ERR_SASL_AUTHENTICATION_FAILED ||
                     code == RdKafka::ERR_TOPIC_AUTHORIZATION_FAILED || code == RdKafka::ERR_GROUP_AUTHORIZATION_FAILED ||
                     code == RdKafka::ERR_CLUSTER_AUTHORIZATION_FAILED;
    if (incurable && fatal_.ok()) {
      fatal_ = absl::FailedPreconditionError(fmt::format("kafka client error: {}", text));
    }
  }
  // The same warning at most once every 10 seconds (librdkafka repeats them while it retries).
  absl::Time now = absl::Now();
  if (text == last_warning_text_ && now - last_warning_ < absl::Seconds(10)) return;
  last_warning_ = now;
  last_warning_text_ = text;
  std::fprintf(stderr, "deltaflow: %s: %s\n", name_.c_str(), text.c_str());
}

absl::Status EventHandler::Fatal() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return fatal_;
}

}  // namespace internal
}  // namespace deltaflow::connectors::kafka
