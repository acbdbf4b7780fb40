// Engine objects handed through Python without being Python objects: C++ sources and output
// handlers (the file connector) that a table graph runs directly.
#pragma once

#include <memory>

#include "deltaflow/io/sink.h"
#include "deltaflow/io/source.h"

namespace deltaflow::python {

struct NativeSource {
  std::shared_ptr<io::Source> source;
};

struct NativeSink {
  std::shared_ptr<io::Sink> handler;
};

}  // namespace deltaflow::python
