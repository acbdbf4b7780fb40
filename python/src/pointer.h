// The Python `Pointer` type: a row id (`value::Key`) as users see it.
#pragma once

#include "deltaflow/value/key.h"

namespace deltaflow::python {

struct PyPointer {
  value::Key key;
};

}  // namespace deltaflow::python
