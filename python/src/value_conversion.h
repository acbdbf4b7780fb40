// Conversion between Python objects and deltaflow's encoded values. Every function here must
// be called with the GIL held.
#pragma once

#include <pybind11/pybind11.h>

#include <vector>

#include "absl/status/status.h"
#include "deltaflow/io/parse.h"
#include "deltaflow/value/row.h"

namespace deltaflow::python {

/// Builds rows from Python values. Object handles created while encoding are kept alive by the
/// encoder until `Finish()`, whose row owns them.
class PyRowEncoder {
 public:
  PyRowEncoder() = default;
  PyRowEncoder(const PyRowEncoder&) = delete;
  PyRowEncoder& operator=(const PyRowEncoder&) = delete;
  ~PyRowEncoder() { ReleaseHeld(); }

  /// Appends one value. On failure nothing usable was appended: call `Clear()` before reuse.
  absl::Status Append(pybind11::handle value);
  value::Row Finish();
  void Clear() {
    builder_.Clear();
    ReleaseHeld();
  }

 private:
  void ReleaseHeld();

  value::RowBuilder builder_;
  std::vector<value::ObjectRef*> held_;
};

/// The Python object for an encoded value (int, str, Pointer, pandas.Timestamp, Json, ...).
pybind11::object ValueToPy(value::ValueView value);

/// A tuple of the row's values.
pybind11::tuple RowToPy(value::RowView row);

/// The Python `Pointer` for a key.
pybind11::object KeyToPy(value::Key key);

/// A source's columns from Python: a list of (name, type name, optional, has default,
/// default) tuples, the type name one of "int", "float", "bool", "str", "bytes", "json",
/// "pointer" or "any". Raises ValueError on an unknown type name.
std::vector<io::Column> ColumnsFromPy(const pybind11::list& columns);

/// Disposes of Python objects whose last row reference went away on a thread without the GIL.
void ReleasePendingObjects();

}  // namespace deltaflow::python
