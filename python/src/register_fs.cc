// The file connector: `FileSource` and `FileSink` objects that table graphs take as a source
// and as an output handler (deltaflow/connectors/fs/).
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "deltaflow/connectors/fs/file_sink.h"
#include "deltaflow/connectors/fs/file_source.h"
#include "native_handles.h"
#include "register.h"
#include "value_conversion.h"

namespace py = pybind11;

namespace deltaflow::python {

namespace {

connectors::fs::Format ParseFormat(const std::string& name) {
  using connectors::fs::Format;
  if (name == "csv") return Format::kCsv;
  if (name == "json") return Format::kJson;
  if (name == "plaintext") return Format::kPlaintext;
  if (name == "plaintext_by_file") return Format::kPlaintextByFile;
  if (name == "binary") return Format::kBinary;
  if (name == "only_metadata") return Format::kOnlyMetadata;
  throw py::value_error("unknown file format '" + name + "'");
}

// Computes an output and discards it (pw.io.null.write): no conversion to Python.
class NullSink final : public io::Sink {
 public:
  absl::Status Write(io::Time, std::vector<io::Change>&) override { return absl::OkStatus(); }
};

}  // namespace

void RegisterFs(py::module_& m) {
  m.def("null_sink", [] { return NativeSink{std::make_shared<NullSink>()}; }, "An output handler that discards.");
  m.def(
      "file_source",
      [](std::string path, const std::string& format, bool streaming, const py::list& columns,
         std::vector<int> primary_key, bool with_metadata, std::string glob, std::string delimiter,
         std::string quote, bool has_header, std::string name, int refresh_ms, std::string escape,
         std::string comment, std::map<std::string, std::string> json_paths) {
        connectors::fs::FileSourceOptions options;
        options.path = std::move(path);
        options.format = ParseFormat(format);
        options.streaming = streaming;
        options.columns = ColumnsFromPy(columns);
        options.primary_key = std::move(primary_key);
        options.with_metadata = with_metadata;
        options.glob = std::move(glob);
        if (delimiter.size() != 1 || quote.size() != 1) throw py::value_error("delimiter and quote must be one character");
        options.delimiter = delimiter[0];
        options.quote = quote[0];
        options.has_header = has_header;
        options.name = std::move(name);
        options.refresh_ms = refresh_ms;
        options.escape = escape.empty() ? '\0' : escape[0];
        options.comment = comment.empty() ? '\0' : comment[0];
        options.json_paths = std::move(json_paths);
        auto source = connectors::fs::FileSource::Make(std::move(options));
        if (!source.ok()) {
          if (absl::IsNotFound(source.status())) throw py::value_error(std::string(source.status().message()));
          throw py::value_error(std::string(source.status().message()));
        }
        return NativeSource{std::shared_ptr<io::Source>(std::move(*source))};
      },
      py::arg("path"), py::arg("format"), py::arg("streaming"), py::arg("columns"), py::arg("primary_key"),
      py::arg("with_metadata"), py::arg("glob"), py::arg("delimiter"), py::arg("quote"), py::arg("has_header"),
      py::arg("name"), py::arg("refresh_ms") = 50, py::arg("escape") = "", py::arg("comment") = "",
      py::arg("json_paths") = std::map<std::string, std::string>{}, "A file source for TableGraph.native_source_input.");

  m.def(
      "file_sink",
      [](std::string path, const std::string& format, std::vector<std::string> columns) {
        if (format != "csv" && format != "json") throw py::value_error("unknown file sink format '" + format + "'");
        auto sink = connectors::fs::FileSink::Make(std::move(path),
                                                   format == "csv" ? connectors::fs::SinkFormat::kCsv
                                                                   : connectors::fs::SinkFormat::kJson,
                                                   std::move(columns));
        if (!sink.ok()) throw py::value_error(std::string(sink.status().message()));
        return NativeSink{std::shared_ptr<io::Sink>(std::move(*sink))};
      },
      py::arg("path"), py::arg("format"), py::arg("columns"), "A file output handler for run_graph.");
}

}  // namespace deltaflow::python
