// Engine objects handed through Python without being Python objects: C++ sources and output
// handlers (the file connector) that a table graph runs directly.
#pragma once

#include <memory>

#include "deltaflow/table/graph.h"

namespace deltaflow::python {

struct NativeSource {
  std::shared_ptr<table::Source> source;
};

struct NativeSink {
  std::shared_ptr<table::OutputHandler> handler;
};

}  // namespace deltaflow::python
