// The `deltaflow._engine` extension module: wiring only; each area registers itself.
#include <pybind11/pybind11.h>

#include <new>

#include "oneapi/tbb/global_control.h"
#include "register.h"

PYBIND11_MODULE(_engine, m) {
  m.doc() = "deltaflow's compiled engine. Use the `deltaflow` package, not this module.";
  deltaflow::python::RegisterValue(m);
  deltaflow::python::RegisterTable(m);
  deltaflow::python::RegisterFs(m);
  deltaflow::python::RegisterKafka(m);
  deltaflow::python::RegisterPostgres(m);
  deltaflow::python::RegisterSqlite(m);
  m.def(
      "release_worker_threads",
      [] {
        // oneTBB keeps its worker threads after a run; a forked child would inherit a
        // scheduler whose threads it does not have, and its first run would wait for them
        // forever. Joining them first (when no run is going on) makes fork() safe; the next
        // run starts new ones.
        pybind11::gil_scoped_release release;
        tbb::task_scheduler_handle handle{tbb::attach{}};
        return tbb::finalize(handle, std::nothrow);
      },
      "Joins the engine's idle worker threads (before fork()); False when a run is going on.");
}
