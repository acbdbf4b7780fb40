// The Kafka connector: `KafkaSource` and `KafkaSink` objects that table graphs take as a
// source and as an output (deltaflow/connectors/kafka/).
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "deltaflow/connectors/kafka/kafka_sink.h"
#include "deltaflow/connectors/kafka/kafka_source.h"
#include "native_handles.h"
#include "register.h"
#include "value_conversion.h"

namespace py = pybind11;

namespace deltaflow::python {

namespace {

namespace kafka = connectors::kafka;

char OneCharacter(const std::string& text, const char* what) {
  if (text.size() != 1) throw py::value_error(std::string(what) + " must be one character");
  return text[0];
}

}  // namespace

void RegisterKafka(py::module_& m) {
  py::enum_<kafka::SourceFormat>(m, "KafkaSourceFormat")
      .value("RAW", kafka::SourceFormat::kRaw)
      .value("PLAINTEXT", kafka::SourceFormat::kPlaintext)
      .value("JSON", kafka::SourceFormat::kJson)
      .value("DSV", kafka::SourceFormat::kDsv)
      .value("DEBEZIUM_POSTGRES", kafka::SourceFormat::kDebeziumPostgres)
      .value("DEBEZIUM_MONGODB", kafka::SourceFormat::kDebeziumMongo);
  py::enum_<kafka::SinkFormat>(m, "KafkaSinkFormat")
      .value("JSON", kafka::SinkFormat::kJson)
      .value("DSV", kafka::SinkFormat::kDsv)
      .value("PLAINTEXT", kafka::SinkFormat::kPlaintext)
      .value("RAW", kafka::SinkFormat::kRaw);

  m.def(
      "kafka_source",
      [](kafka::Settings settings, std::string topic, kafka::SourceFormat format, const py::list& columns,
         std::vector<int> primary_key, std::map<std::string, std::string> json_paths, const std::string& delimiter,
         bool with_metadata, bool autogenerate_key, std::optional<int64_t> start_from_timestamp_ms,
         int parallel_readers, bool streaming, size_t backlog, std::string name) {
        kafka::KafkaSourceOptions options;
        options.settings = std::move(settings);
        options.topic = std::move(topic);
        options.format = format;
        options.columns = ColumnsFromPy(columns);
        options.primary_key = std::move(primary_key);
        options.json_paths = std::move(json_paths);
        options.delimiter = OneCharacter(delimiter, "the delimiter");
        options.with_metadata = with_metadata;
        options.autogenerate_key = autogenerate_key;
        options.start_from_timestamp_ms = start_from_timestamp_ms;
        options.parallel_readers = parallel_readers;
        options.streaming = streaming;
        if (backlog > 0) options.backlog = backlog;
        options.name = std::move(name);
        auto source = kafka::KafkaSource::Make(std::move(options));
        if (!source.ok()) throw py::value_error(std::string(source.status().message()));
        return NativeSource{std::shared_ptr<io::Source>(std::move(*source))};
      },
      py::arg("settings"), py::arg("topic"), py::arg("format"), py::arg("columns"), py::arg("primary_key"),
      py::arg("json_paths"), py::arg("delimiter"), py::arg("with_metadata"), py::arg("autogenerate_key"),
      py::arg("start_from_timestamp_ms"), py::arg("parallel_readers"), py::arg("streaming"), py::arg("backlog"),
      py::arg("name"), "A Kafka source for TableGraph.native_source_input.");

  m.def(
      "kafka_sink",
      [](kafka::Settings settings, std::string topic, int topic_column, kafka::SinkFormat format,
         std::vector<std::string> columns, int key_column, int value_column,
         std::vector<std::pair<std::string, int>> headers, std::vector<int> sort_by, const std::string& delimiter,
         std::string name) {
        kafka::KafkaSinkOptions options;
        options.settings = std::move(settings);
        options.topic = std::move(topic);
        options.topic_column = topic_column;
        options.format = format;
        options.columns = std::move(columns);
        options.key_column = key_column;
        options.value_column = value_column;
        options.headers = std::move(headers);
        options.sort_by = std::move(sort_by);
        options.delimiter = OneCharacter(delimiter, "the delimiter");
        options.name = std::move(name);
        auto sink = kafka::KafkaSink::Make(std::move(options));
        if (!sink.ok()) throw py::value_error(std::string(sink.status().message()));
        return NativeSink{std::shared_ptr<io::Sink>(std::move(*sink))};
      },
      py::arg("settings"), py::arg("topic"), py::arg("topic_column"), py::arg("format"), py::arg("columns"),
      py::arg("key_column"), py::arg("value_column"), py::arg("headers"), py::arg("sort_by"), py::arg("delimiter"),
      py::arg("name"), "A Kafka output for run_graph.");
}

}  // namespace deltaflow::python
