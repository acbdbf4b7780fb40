// librdkafka settings, as a user passes them to a Kafka source or sink.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace deltaflow::connectors::kafka {

/// librdkafka configuration properties (name, value), passed through as given
/// (https://github.com/confluentinc/librdkafka/blob/master/CONFIGURATION.md): TLS
/// (`security.protocol=ssl`, `ssl.ca.location`, certificate verification on by default),
/// SASL/SCRAM and SASL/PLAIN (`sasl.mechanism`, `sasl.username`, `sasl.password`), ...
using Settings = std::vector<std::pair<std::string, std::string>>;

/// Whether a setting holds a secret (a password, a private key, a token): its value never
/// appears in a log line or an error message.
bool IsSecretSetting(std::string_view name);

/// The value of setting `name`, or empty when it is not given.
std::string_view FindSetting(const Settings& settings, std::string_view name);

}  // namespace deltaflow::connectors::kafka
