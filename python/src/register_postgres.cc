// The PostgreSQL connector: `PostgresSink` objects that runs take as outputs
// (deltaflow/connectors/postgres/).
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "deltaflow/connectors/postgres/postgres_sink.h"
#include "native_handles.h"
#include "register.h"

namespace py = pybind11;

namespace deltaflow::python {

namespace postgres = connectors::postgres;

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
}

}  // namespace deltaflow::python
