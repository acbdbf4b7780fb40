// One registration function per area of the `deltaflow._engine` module; module.cc calls them.
#pragma once

#include <pybind11/pybind11.h>

namespace deltaflow::python {

void RegisterValue(pybind11::module_& m);
void RegisterTable(pybind11::module_& m);
void RegisterFs(pybind11::module_& m);
void RegisterKafka(pybind11::module_& m);
void RegisterPostgres(pybind11::module_& m);
void RegisterSqlite(pybind11::module_& m);

}  // namespace deltaflow::python
