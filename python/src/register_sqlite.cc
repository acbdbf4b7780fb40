// The SQLite connector: `SqliteSource` and `SqliteSink` objects for runs
// (deltaflow/connectors/sqlite/).
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "deltaflow/connectors/sqlite/sqlite.h"
#include "native_handles.h"
#include "register.h"

namespace py = pybind11;

namespace deltaflow::python {

namespace sqlite = connectors::sqlite;

void RegisterSqlite(py::module_& m) {
  m.def(
      "sqlite_source",
      [](std::string path, std::string table, const std::vector<std::tuple<std::string, std::string, bool>>& columns,
         std::vector<int> primary_key, int poll_interval_ms, std::string name) {
        static const std::map<std::string, sqlite::ReadType> kTypes = {
            {"any", sqlite::ReadType::kAny},       {"int", sqlite::ReadType::kInt},
            {"float", sqlite::ReadType::kFloat},   {"bool", sqlite::ReadType::kBool},
            {"str", sqlite::ReadType::kString},    {"bytes", sqlite::ReadType::kBytes},
            {"json", sqlite::ReadType::kJson},     {"pointer", sqlite::ReadType::kPointer},
            {"datetime_naive", sqlite::ReadType::kDateTimeNaive}, {"datetime_utc", sqlite::ReadType::kDateTimeUtc},
            {"duration", sqlite::ReadType::kDuration}, {"list", sqlite::ReadType::kList},
        };
        sqlite::SqliteSourceOptions options;
        options.path = std::move(path);
        options.table = std::move(table);
        for (const auto& [column, type, optional] : columns) {
          auto it = kTypes.find(type);
          if (it == kTypes.end()) throw py::value_error("unknown column type '" + type + "'");
          options.columns.push_back({column, it->second, optional});
        }
        options.primary_key = std::move(primary_key);
        options.poll_interval_ms = poll_interval_ms;
        options.name = std::move(name);
        auto source = sqlite::SqliteSource::Make(std::move(options));
        if (!source.ok()) throw py::value_error(std::string(source.status().message()));
        return NativeSource{std::shared_ptr<io::Source>(std::move(*source))};
      },
      py::arg("path"), py::arg("table"), py::arg("columns"), py::arg("primary_key"), py::arg("poll_interval_ms"),
      py::arg("name"), "A SQLite source for TableGraph.native_source_input.");

  m.def(
      "sqlite_sink",
      [](std::string path, std::string table, const std::vector<std::tuple<std::string, std::string, bool>>& columns,
         bool snapshot, std::vector<int> primary_key, int init_mode, std::string name) {
        sqlite::SqliteSinkOptions options;
        options.path = std::move(path);
        options.table = std::move(table);
        for (const auto& [column, sql_type, optional] : columns) options.columns.push_back({column, sql_type, optional});
        options.table_type = snapshot ? sqlite::TableType::kSnapshot : sqlite::TableType::kStreamOfChanges;
        options.primary_key = std::move(primary_key);
        options.init_mode = static_cast<sqlite::InitMode>(init_mode);
        options.name = std::move(name);
        auto sink = sqlite::SqliteSink::Make(std::move(options));
        if (!sink.ok()) throw py::value_error(std::string(sink.status().message()));
        return NativeSink{std::shared_ptr<io::Sink>(std::move(*sink))};
      },
      py::arg("path"), py::arg("table"), py::arg("columns"), py::arg("snapshot"), py::arg("primary_key"),
      py::arg("init_mode"), py::arg("name"), "A SQLite output for run_graph.");
}

}  // namespace deltaflow::python
