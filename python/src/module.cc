// The `deltaflow._engine` extension module: wiring only; each area registers itself.
#include <pybind11/pybind11.h>

#include "register.h"

PYBIND11_MODULE(_engine, m) {
  m.doc() = "deltaflow's compiled engine. Use the `deltaflow` package, not this module.";
  deltaflow::python::RegisterValue(m);
  deltaflow::python::RegisterTable(m);
  deltaflow::python::RegisterFs(m);
  deltaflow::python::RegisterKafka(m);
  deltaflow::python::RegisterPostgres(m);
  deltaflow::python::RegisterSqlite(m);
}
