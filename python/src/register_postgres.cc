// The PostgreSQL connector: `PostgresSink` objects that runs take as outputs
// (deltaflow/connectors/postgres/).
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "deltaflow/connectors/postgres/postgres_sink.h"
#include "deltaflow/connectors/postgres/postgres_source.h"
#include "native_handles.h"
#include "register.h"

namespace py = pybind11;

namespace deltaflow::python {

namespace postgres = connectors::postgres;

namespace {

postgres::ReadType ReadTypeOf(const std::string& name) {
  static const std::map<std::string, postgres::ReadType> kTypes = {
      {"any", postgres::ReadType::kAny},          {"int", postgres::ReadType::kInt},
      {"float", postgres::ReadType::kFloat},      {"bool", postgres::ReadType::kBool},
      {"str", postgres::ReadType::kString},       {"bytes", postgres::ReadType::kBytes},
      {"json", postgres::ReadType::kJson},        {"pointer", postgres::ReadType::kPointer},
      {"datetime_naive", postgres::ReadType::kDateTimeNaive}, {"datetime_utc", postgres::ReadType::kDateTimeUtc},
      {"duration", postgres::ReadType::kDuration}, {"list", postgres::ReadType::kList},
  };
  auto it = kTypes.find(name);
  if (it == kTypes.end()) throw py::value_error("unknown column type '" + name + "'");
  return it->second;
}

}  // namespace

void RegisterPostgres(py::module_& m) {
  py::enum_<postgres::TableType>(m, "PostgresTableType")
      .value("STREAM_OF_CHANGES", postgres::TableType::kStreamOfChanges)
      .value("SNAPSHOT", postgres::TableType::kSnapshot);
  py::enum_<postgres::InitMode>(m, "PostgresInitMode")
      .value("DEFAULT", postgres::InitMode::kDefault)
      .value("CREATE_IF_NOT_EXISTS", postgres::InitMode::kCreateIfNotExists)
      .value("REPLACE", postgres::InitMode::kReplace);

  m.def(
      "postgres_sink",
      [](std::string connection, std::string schema, std::string table,
         const std::vector<std::tuple<std::string, std::string, bool>>& columns, postgres::TableType table_type,
         std::vector<int> primary_key, postgres::InitMode init_mode, size_t max_batch_size, std::vector<int> sort_by,
         double reconnect_timeout_s, std::string name) {
        postgres::PostgresSinkOptions options;
        options.connection = std::move(connection);
        options.schema = std::move(schema);
        options.table = std::move(table);
        for (const auto& [column, sql_type, optional] : columns) options.columns.push_back({column, sql_type, optional});
        options.table_type = table_type;
        options.primary_key = std::move(primary_key);
        options.init_mode = init_mode;
        options.max_batch_size = max_batch_size;
        options.sort_by = std::move(sort_by);
        options.reconnect_timeout = absl::Seconds(reconnect_timeout_s);
        options.name = std::move(name);
        absl::StatusOr<std::unique_ptr<postgres::PostgresSink>> sink;
        {
          py::gil_scoped_release release;
          sink = postgres::PostgresSink::Make(std::move(options));
        }
        if (!sink.ok()) throw py::value_error(std::string(sink.status().message()));
        return NativeSink{std::shared_ptr<io::Sink>(std::move(*sink))};
      },
      py::arg("connection"), py::arg("schema"), py::arg("table"), py::arg("columns"), py::arg("table_type"),
      py::arg("primary_key"), py::arg("init_mode"), py::arg("max_batch_size"), py::arg("sort_by"),
      py::arg("reconnect_timeout_s"), py::arg("name"), "A PostgreSQL output for run_graph.");

  m.def(
      "postgres_source",
      [](std::string connection, std::string schema, std::string table,
         const std::vector<std::tuple<std::string, std::string, std::string, bool>>& columns, std::vector<int> primary_key,
         bool streaming, bool append_only, std::string publication, std::string slot, std::string name) {
        postgres::PostgresSourceOptions options;
        options.connection = std::move(connection);
        options.schema = std::move(schema);
        options.table = std::move(table);
        for (const auto& [column, type, element, optional] : columns) {
          options.columns.push_back({column, ReadTypeOf(type), ReadTypeOf(element), optional});
        }
        options.primary_key = std::move(primary_key);
        options.streaming = streaming;
        options.append_only = append_only;
        options.publication = std::move(publication);
        options.slot = std::move(slot);
        options.name = std::move(name);
        auto source = postgres::PostgresSource::Make(std::move(options));
        if (!source.ok()) throw py::value_error(std::string(source.status().message()));
        return NativeSource{std::shared_ptr<io::Source>(std::move(*source))};
      },
      py::arg("connection"), py::arg("schema"), py::arg("table"), py::arg("columns"), py::arg("primary_key"),
      py::arg("streaming"), py::arg("append_only"), py::arg("publication"), py::arg("slot"), py::arg("name"),
      "A PostgreSQL source (snapshot, then logical replication) for TableGraph.native_source_input.");
}

}  // namespace deltaflow::python
