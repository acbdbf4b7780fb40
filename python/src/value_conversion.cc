#include "value_conversion.h"

#include <map>
#include <string>

#include <Python.h>
#include <pybind11/numpy.h>

#include <mutex>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "fmt/format.h"
#include "pointer.h"

namespace py = pybind11;

namespace deltaflow::python {

namespace {

using value::Key;
using value::ObjectRef;
using value::Tag;
using value::ValueKind;
using value::ValueView;

// Python classes the conversions need, imported once and kept for the life of the process
// (leaked on purpose: destroying them after the interpreter finalizes would crash).
struct PyTypes {
  py::object datetime;
  py::object timedelta;
  py::object pd_timestamp;
  py::object pd_timedelta;
  py::object np_ndarray;
  py::object np_integer;
  py::object np_floating;
  py::object np_bool;
  py::object json_class;
  py::object json_dumps;
  py::object json_loads;
  py::object error_class;
  py::object error_value;
  py::object wrapper_class;
  py::object pickle_dumps;
  py::object utc;
};

const PyTypes& Types() {
  static PyTypes* types = [] {
    auto* t = new PyTypes();
    py::module_ datetime = py::module_::import("datetime");
    py::module_ pandas = py::module_::import("pandas");
    py::module_ numpy = py::module_::import("numpy");
    py::module_ json = py::module_::import("json");
    py::module_ values = py::module_::import("deltaflow.internals.values");
    t->datetime = datetime.attr("datetime");
    t->timedelta = datetime.attr("timedelta");
    t->utc = datetime.attr("timezone").attr("utc");
    t->pd_timestamp = pandas.attr("Timestamp");
    t->pd_timedelta = pandas.attr("Timedelta");
    t->np_ndarray = numpy.attr("ndarray");
    t->np_integer = numpy.attr("integer");
    t->np_floating = numpy.attr("floating");
    t->np_bool = numpy.attr("bool_");
    t->json_dumps = json.attr("dumps");
    t->json_loads = json.attr("loads");
    t->json_class = values.attr("Json");
    t->error_class = values.attr("ErrorValue");
    t->error_value = values.attr("ERROR");
    t->wrapper_class = values.attr("PyObjectWrapper");
    t->pickle_dumps = py::module_::import("pickle").attr("dumps");
    return t;
  }();
  return *types;
}

// Python objects referenced from rows. Handles are interned by the fingerprint of the object's
// pickle, so equal objects share one handle and rows holding them compare equal. A handle
// whose last row reference disappears releases its Python object at once when the releasing
// thread holds the GIL, and otherwise queues it for the next thread that does.
class PyObjectReleaser final : public ObjectRef::Releaser {
 public:
  void Release(ObjectRef* handle) override {
    auto* object = static_cast<PyObject*>(handle->object());
    {
      std::lock_guard<std::mutex> lock(mutex_);
      auto it = interned_.find(handle->fingerprint());
      if (it != interned_.end() && it->second == handle) interned_.erase(it);
      if (!(Py_IsInitialized() && PyGILState_Check())) {
        pending_.push_back(object);
        return;
      }
    }
    Py_DECREF(object);
  }

  // Returns a handle (with one reference for the caller) for `object`. GIL held.
  ObjectRef* Intern(py::handle object, Key fingerprint) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto [it, inserted] = interned_.try_emplace(fingerprint, nullptr);
    if (!inserted && it->second->TryRetain()) return it->second;
    ObjectRef* handle = ObjectRef::Make(object.inc_ref().ptr(), fingerprint, this);
    it->second = handle;
    return handle;
  }

  // Drops queued Python references. GIL held.
  void DrainPending() {
    std::vector<PyObject*> pending;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      pending.swap(pending_);
    }
    for (PyObject* object : pending) Py_DECREF(object);
  }

 private:
  std::mutex mutex_;
  absl::flat_hash_map<Key, ObjectRef*> interned_;
  std::vector<PyObject*> pending_;
};

PyObjectReleaser& Releaser() {
  static auto* releaser = new PyObjectReleaser();  // outlives every row; never destroyed
  return *releaser;
}

Key FingerprintOf(py::handle object) {
  try {
    py::bytes pickled = Types().pickle_dumps(object, 4);
    std::string_view bytes = pickled;
    return value::StableHash128(bytes.data(), bytes.size());
  } catch (py::error_already_set&) {
    // Unpicklable objects are equal only to themselves: fingerprint their identity, which is
    // stable within this process only.
    uintptr_t identity = reinterpret_cast<uintptr_t>(object.ptr());
    Key k = value::StableHash128(&identity, sizeof(identity));
    return Key(k.high() ^ 0x9e3779b97f4a7c15ULL, k.low());
  }
}

absl::Status TypeError(py::handle v) {
  std::string type_name = py::str(py::type::handle_of(v).attr("__qualname__"));
  return absl::InvalidArgumentError(fmt::format(
      "deltaflow cannot store a value of type {}; supported are None, bool, int, float, str, bytes, Pointer, tuple, list, numpy arrays of "
      "ints or floats, datetime, timedelta, pandas.Timestamp/Timedelta, deltaflow.Json and "
      "deltaflow.PyObjectWrapper (wrap other objects with deltaflow.wrap_py_object)",
      type_name));
}

std::vector<uint64_t> ShapeOf(const py::array& array) {
  std::vector<uint64_t> shape(array.ndim());
  for (py::ssize_t i = 0; i < array.ndim(); ++i) shape[i] = array.shape(i);
  return shape;
}

template <typename T>
py::object ArrayToPy(value::NdArrayView<T> view) {
  auto shape = view.shape();
  std::vector<py::ssize_t> dims(shape.begin(), shape.end());
  py::array_t<T> array(dims);
  view.CopyTo(array.mutable_data());
  return array;
}

}  // namespace

void PyRowEncoder::ReleaseHeld() {
  for (ObjectRef* ref : held_) ref->Release();
  held_.clear();
}

value::Row PyRowEncoder::Finish() {
  value::Row row = builder_.Finish();
  ReleaseHeld();
  return row;
}

absl::Status PyRowEncoder::Append(py::handle v) {
  const PyTypes& t = Types();
  PyObject* o = v.ptr();
  if (o == Py_None) {
    builder_.Null();
  } else if (PyBool_Check(o)) {
    builder_.Bool(o == Py_True);
  } else if (PyLong_Check(o)) {
    int overflow = 0;
    long long x = PyLong_AsLongLongAndOverflow(o, &overflow);
    if (overflow != 0) {
      return absl::InvalidArgumentError(fmt::format(
          "integer {} does not fit in 64 bits (deltaflow's int)", std::string(py::str(v))));
    }
    builder_.Int(x);
  } else if (PyFloat_Check(o)) {
    builder_.Float(PyFloat_AS_DOUBLE(o));
  } else if (PyUnicode_Check(o)) {
    Py_ssize_t size = 0;
    const char* text = PyUnicode_AsUTF8AndSize(o, &size);
    if (text == nullptr) {
      PyErr_Clear();
      return absl::InvalidArgumentError("string is not encodable as UTF-8 (lone surrogate?)");
    }
    builder_.String(std::string_view(text, static_cast<size_t>(size)));
  } else if (PyBytes_Check(o)) {
    builder_.Bytes({reinterpret_cast<const uint8_t*>(PyBytes_AS_STRING(o)),
                    static_cast<size_t>(PyBytes_GET_SIZE(o))});
  } else if (PyByteArray_Check(o)) {
    builder_.Bytes({reinterpret_cast<const uint8_t*>(PyByteArray_AS_STRING(o)),
                    static_cast<size_t>(PyByteArray_GET_SIZE(o))});
  } else if (py::isinstance<PyPointer>(v)) {
    builder_.Pointer(v.cast<const PyPointer&>().key);
  } else if (PyTuple_Check(o) || PyList_Check(o)) {
    builder_.BeginTuple();
    for (py::handle element : v) {
      if (absl::Status s = Append(element); !s.ok()) return s;
    }
    builder_.EndTuple();
  } else if (py::isinstance(v, t.np_ndarray)) {
    char kind = py::cast<std::string>(v.attr("dtype").attr("kind"))[0];
    if (kind == 'i' || kind == 'u' || kind == 'b') {
      auto array = py::array_t<int64_t, py::array::c_style | py::array::forcecast>::ensure(v);
      auto shape = ShapeOf(array);
      builder_.IntArray(shape, {array.data(), static_cast<size_t>(array.size())});
    } else if (kind == 'f') {
      auto array = py::array_t<double, py::array::c_style | py::array::forcecast>::ensure(v);
      auto shape = ShapeOf(array);
      builder_.FloatArray(shape, {array.data(), static_cast<size_t>(array.size())});
    } else {
      return absl::InvalidArgumentError(fmt::format(
          "numpy arrays of dtype {} are not supported; deltaflow stores int and float arrays",
          std::string(py::str(v.attr("dtype")))));
    }
  } else if (py::isinstance(v, t.np_bool)) {
    builder_.Bool(v.cast<bool>());
  } else if (py::isinstance(v, t.np_integer)) {
    return Append(py::reinterpret_steal<py::object>(PyNumber_Index(o)));
  } else if (py::isinstance(v, t.np_floating)) {
    builder_.Float(v.cast<double>());
  } else if (py::isinstance(v, t.datetime)) {
    py::object ts = py::isinstance(v, t.pd_timestamp) ? py::reinterpret_borrow<py::object>(v)
                                                      : t.pd_timestamp(v);
    int64_t nanos = ts.attr("value").cast<int64_t>();
    if (ts.attr("tzinfo").is_none()) {
      builder_.DateTimeNaive(nanos);
    } else {
      builder_.DateTimeUtc(nanos);
    }
  } else if (py::isinstance(v, t.timedelta)) {
    py::object td = py::isinstance(v, t.pd_timedelta) ? py::reinterpret_borrow<py::object>(v)
                                                      : t.pd_timedelta(v);
    builder_.Duration(td.attr("value").cast<int64_t>());
  } else if (py::isinstance(v, t.json_class)) {
    std::string text;
    try {
      text = py::str(t.json_dumps(v.attr("value")));
    } catch (py::error_already_set& e) {
      return absl::InvalidArgumentError(fmt::format("Json value is not serializable: {}", e.what()));
    }
    if (absl::Status s = builder_.Json(text); !s.ok()) return s;
  } else if (py::isinstance(v, t.error_class)) {
    builder_.Error();
  } else if (py::isinstance(v, t.wrapper_class)) {
    ObjectRef* ref = Releaser().Intern(v, FingerprintOf(v));
    held_.push_back(ref);
    builder_.Object(ref);
  } else {
    return TypeError(v);
  }
  return absl::OkStatus();
}

py::object ValueToPy(ValueView v) {
  const PyTypes& t = Types();
  switch (v.kind()) {
    case ValueKind::kNull:
      return py::none();
    case ValueKind::kBool:
      return py::bool_(v.AsBool());
    case ValueKind::kInt:
      return py::int_(v.AsInt());
    case ValueKind::kFloat:
      return py::float_(v.AsFloat());
    case ValueKind::kKey:
      return KeyToPy(v.AsKey());
    case ValueKind::kString: {
      std::string_view s = v.AsString();
      return py::reinterpret_steal<py::object>(
          PyUnicode_DecodeUTF8(s.data(), static_cast<Py_ssize_t>(s.size()), "strict"));
    }
    case ValueKind::kBytes: {
      auto b = v.AsBytes();
      return py::bytes(reinterpret_cast<const char*>(b.data()), b.size());
    }
    case ValueKind::kTuple: {
      auto elements = v.AsTuple();
      py::tuple out(elements.size());
      size_t i = 0;
      for (ValueView e : elements) out[i++] = ValueToPy(e);
      return out;
    }
    case ValueKind::kIntArray:
      return ArrayToPy(v.AsIntArray());
    case ValueKind::kFloatArray:
      return ArrayToPy(v.AsFloatArray());
    case ValueKind::kDateTimeNaive:
      return t.pd_timestamp(v.AsNanos());
    case ValueKind::kDateTimeUtc:
      return t.pd_timestamp(v.AsNanos(), py::arg("tz") = t.utc);
    case ValueKind::kDuration:
      return t.pd_timedelta(v.AsNanos());
    case ValueKind::kJson:
      return t.json_class(t.json_loads(py::str(std::string(v.AsJson()))));
    case ValueKind::kError:
      return t.error_value;
    case ValueKind::kObject:
      return py::reinterpret_borrow<py::object>(static_cast<PyObject*>(v.AsObject()->object()));
  }
  return py::none();
}

py::tuple RowToPy(value::RowView row) {
  auto values = row.values();
  py::tuple out(values.size());
  size_t i = 0;
  for (ValueView v : values) out[i++] = ValueToPy(v);
  return out;
}

py::object KeyToPy(Key key) { return py::cast(PyPointer{key}); }

void ReleasePendingObjects() { Releaser().DrainPending(); }

std::vector<io::Column> ColumnsFromPy(const py::list& columns) {
  static const std::map<std::string, io::ColumnType> kTypes = {
      {"int", io::ColumnType::kInt},       {"float", io::ColumnType::kFloat}, {"bool", io::ColumnType::kBool},
      {"str", io::ColumnType::kString},    {"bytes", io::ColumnType::kBytes}, {"json", io::ColumnType::kJson},
      {"pointer", io::ColumnType::kPointer}, {"any", io::ColumnType::kAny},
  };
  std::vector<io::Column> out;
  for (py::handle c : columns) {
    auto t = c.cast<py::tuple>();
    io::Column column;
    column.name = t[0].cast<std::string>();
    std::string type = t[1].cast<std::string>();
    auto it = kTypes.find(type);
    if (it == kTypes.end()) throw py::value_error("unknown column type '" + type + "'");
    column.type = it->second;
    column.optional = t[2].cast<bool>();
    if (t[3].cast<bool>()) {
      PyRowEncoder encoder;
      if (absl::Status s = encoder.Append(t[4]); !s.ok()) throw py::value_error(std::string(s.message()));
      column.default_value = encoder.Finish();
    }
    out.push_back(std::move(column));
  }
  return out;
}

}  // namespace deltaflow::python
