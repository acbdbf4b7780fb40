// ObjectRef: a counted handle to a foreign object (a Python object) stored in a row.
//
// Rows are plain bytes, so a row that holds an object stores a pointer to an `ObjectRef` and a
// 128-bit fingerprint of the object's contents. The owning `Row` retains the handle when it is
// copied and releases it when destroyed; the count is deltaflow's own (atomic), so copying rows
// on worker threads never touches the foreign runtime. When the last reference goes, the
// handle's `Releaser` disposes of the object; for Python objects the releaser decrements the
// Python reference count only while holding the GIL (see python/src/register_value.cc).
//
// Equality, ordering and hashing of rows use the fingerprint, never the pointer; the producer
// of handles interns them by fingerprint, so one fingerprint maps to one handle in a process.
#pragma once

#include <atomic>
#include <cstdint>

#include "deltaflow/value/key.h"

namespace deltaflow::value {

class ObjectRef {
 public:
  /// Disposes of foreign objects whose last reference is gone. Implementations must be
  /// thread-safe: `Release` may be called from any worker thread.
  class Releaser {
   public:
    virtual ~Releaser() = default;
    /// Called exactly once per handle, after its count reached zero, with the handle still
    /// valid; the handle is deleted when this returns.
    virtual void Release(ObjectRef* handle) = 0;
  };

  /// Creates a handle with a count of one, owned by the caller.
  static ObjectRef* Make(void* object, Key fingerprint, Releaser* releaser) {
    return new ObjectRef(object, fingerprint, releaser);
  }

  ObjectRef(const ObjectRef&) = delete;
  ObjectRef& operator=(const ObjectRef&) = delete;

  void* object() const { return object_; }
  Key fingerprint() const { return fingerprint_; }

  void Retain() { count_.fetch_add(1, std::memory_order_relaxed); }

  /// Retains the handle unless its count already reached zero (it is being released).
  /// Used by interning tables that hold handles without owning them.
  bool TryRetain() {
    uint64_t count = count_.load(std::memory_order_relaxed);
    while (count != 0) {
      if (count_.compare_exchange_weak(count, count + 1, std::memory_order_acq_rel)) return true;
    }
    return false;
  }

  void Release() {
    if (count_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      releaser_->Release(this);
      delete this;
    }
  }

 private:
  ObjectRef(void* object, Key fingerprint, Releaser* releaser)
      : object_(object), fingerprint_(fingerprint), releaser_(releaser) {}
  ~ObjectRef() = default;

  void* object_;
  Key fingerprint_;
  Releaser* releaser_;
  std::atomic<uint64_t> count_{1};
};

}  // namespace deltaflow::value
