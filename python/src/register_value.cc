// Values, rows and ids: `Pointer`, `Row`, `ref_scalar`, and the encoding checks behind them.
#include <pybind11/pybind11.h>

#include <string>

#include "absl/status/status.h"
#include "deltaflow/value/row.h"
#include "pointer.h"
#include "register.h"
#include "value_conversion.h"

namespace py = pybind11;

namespace deltaflow::python {

namespace {

using value::Key;
using value::Row;

[[noreturn]] void ThrowStatus(const absl::Status& status) {
  if (absl::IsInvalidArgument(status)) throw py::value_error(std::string(status.message()));
  throw std::runtime_error(std::string(status.message()));
}

// Encodes a sequence of Python values as a row; a value of an unsupported type raises
// TypeError and one out of range raises ValueError, both naming the position.
Row EncodeRow(const py::iterable& values) {
  ReleasePendingObjects();
  PyRowEncoder encoder;
  size_t index = 0;
  for (py::handle v : values) {
    if (absl::Status s = encoder.Append(v); !s.ok()) {
      std::string message = "value " + std::to_string(index) + ": " + std::string(s.message());
      if (s.message().find("cannot store a value of type") != std::string_view::npos) {
        throw py::type_error(message);
      }
      throw py::value_error(message);
    }
    ++index;
  }
  return encoder.Finish();
}

}  // namespace

void RegisterValue(py::module_& m) {
  py::class_<PyPointer>(m, "Pointer", R"doc(
The id of a row: a 128-bit stable hash, printed as ``^`` followed by 26 base-32 digits.
Equal values always give equal pointers, in every process and every run.)doc")
      .def(py::init([](const std::string& text) {
             absl::StatusOr<Key> key = Key::Parse(text);
             if (!key.ok()) ThrowStatus(key.status());
             return PyPointer{*key};
           }),
           py::arg("text"), "Parses the printed form of a pointer.")
      .def("__str__", [](const PyPointer& p) { return p.key.ToString(); })
      .def("__repr__", [](const PyPointer& p) { return p.key.ToString(); })
      .def("__hash__",
           [](const PyPointer& p) { return static_cast<py::ssize_t>(p.key.ShardHash() >> 1); })
      .def("__eq__", [](const PyPointer& a, const PyPointer& b) { return a.key == b.key; })
      .def("__eq__", [](const PyPointer&, py::object) { return false; })
      .def("__lt__", [](const PyPointer& a, const PyPointer& b) { return a.key < b.key; })
      .def("__le__", [](const PyPointer& a, const PyPointer& b) { return a.key <= b.key; })
      .def("__gt__", [](const PyPointer& a, const PyPointer& b) { return a.key > b.key; })
      .def("__ge__", [](const PyPointer& a, const PyPointer& b) { return a.key >= b.key; })
      .def_property_readonly("high", [](const PyPointer& p) { return p.key.high(); })
      .def_property_readonly("low", [](const PyPointer& p) { return p.key.low(); })
      .def(py::pickle([](const PyPointer& p) { return p.key.ToString(); },
                      [](const std::string& text) {
                        absl::StatusOr<Key> key = Key::Parse(text);
                        if (!key.ok()) ThrowStatus(key.status());
                        return PyPointer{*key};
                      }));

  py::class_<Row>(m, "Row", R"doc(
A row of values in deltaflow's canonical encoding. Rows with equal values have equal bytes;
rows order by deltaflow's value order.)doc")
      .def(py::init([](const py::iterable& values) { return EncodeRow(values); }),
           py::arg("values"))
      .def_static(
          "from_bytes",
          [](const py::bytes& data) {
            std::string_view bytes = data;
            std::span<const uint8_t> span(reinterpret_cast<const uint8_t*>(bytes.data()),
                                          bytes.size());
            if (absl::Status s = value::ValidateRow(span); !s.ok()) ThrowStatus(s);
            return Row(span);
          },
          py::arg("data"), "Decodes canonical bytes, checking every byte.")
      .def("values", [](const Row& row) { return RowToPy(row); })
      .def("to_bytes",
           [](const Row& row) {
             if (row.has_objects()) {
               throw py::value_error(
                   "a row holding Python objects has no portable bytes (it refers to objects "
                   "in this process)");
             }
             return py::bytes(reinterpret_cast<const char*>(row.bytes().data()), row.size());
           })
      .def("key", [](const Row& row) { return KeyToPy(value::IdFromValues(row.values())); },
           "The stable id of these values.")
      .def("__len__", &Row::arity)
      .def("__eq__", [](const Row& a, const Row& b) { return a == b; })
      .def("__lt__", [](const Row& a, const Row& b) { return a < b; })
      .def("__le__", [](const Row& a, const Row& b) { return a <= b; })
      .def("__gt__", [](const Row& a, const Row& b) { return a > b; })
      .def("__ge__", [](const Row& a, const Row& b) { return a >= b; })
      .def("__hash__",
           [](const Row& row) {
             return static_cast<py::ssize_t>(value::HashRow(row).ShardHash() >> 1);
           })
      .def("__repr__", [](const Row& row) { return "Row" + row.DebugString(); });

  m.def(
      "ref_scalar",
      [](const py::args& values) { return KeyToPy(value::IdFromValues(EncodeRow(values).values())); },
      "The stable pointer derived from the given values (as `Table.pointer_from` uses).");

  m.def("release_pending_objects", &ReleasePendingObjects,
        "Drops Python objects released by worker threads since the last call.");
}

}  // namespace deltaflow::python
