// DriverInput: one logical input of a dataflow running on a `Runtime`, fed from the driver.
//
// A dataflow on W workers has one input session per worker, each holding that worker's
// capability. The driver — the thread that owns the runtime, or a source thread — feeds them
// through this handle: records are spread over the workers in chunks, `AdvanceTo` and `Close`
// reach every worker (a worker whose capability lagged would hold every frontier back), and
// every touch of a worker's session happens under that worker's lock (`WithWorker`), so a
// session is never used while its worker steps. Destroying the handle closes the input.
//
// Thread-safety: one thread at a time uses a `DriverInput`; the runtime must outlive it.
#pragma once

#include <memory>
#include <utility>
#include <vector>

#include "deltaflow/dd/collection.h"
#include "deltaflow/runtime/runtime.h"

namespace deltaflow::dd {

template <typename D, typename T, typename R = int64_t>
class DriverInput {
 public:
  explicit DriverInput(runtime::Runtime<T>& runtime) : runtime_(runtime) {}
  DriverInput(const DriverInput&) = delete;
  DriverInput& operator=(const DriverInput&) = delete;
  ~DriverInput() { Close(); }

  /// Adds this input to `worker`'s graph (call once per worker, inside `Runtime::Build`) and
  /// returns the collection it produces there.
  Collection<D, T, R> Attach(Worker<T>& worker) {
    auto [session, collection] = NewInput<D, R>(worker);
    sessions_.push_back(std::move(session));
    pending_.emplace_back();
    return collection;
  }

  /// Adds `diff` copies of `data` at the current time.
  void Update(D data, R diff) {
    DELTAFLOW_CHECK(!closed_, "update on a closed input");
    pending_[next_].push_back({std::move(data), diff});
    if (pending_[next_].size() >= kChunk) {
      Flush(next_);
      next_ = (next_ + 1) % pending_.size();
    }
  }
  void Insert(D data) { Update(std::move(data), R{1}); }
  void Remove(D data) { Update(std::move(data), R{-1}); }

  /// Sends what is buffered and declares that no more updates come before `time`, on every
  /// worker.
  void AdvanceTo(const T& time) {
    if (closed_) return;
    for (uint32_t w = 0; w < sessions_.size(); ++w) {
      runtime_.WithWorker(w, [&](Worker<T>&) {
        SendPending(w);
        sessions_[w]->AdvanceTo(time);
      });
    }
    time_ = time;
  }

  /// Sends what is buffered and closes the input on every worker.
  void Close() {
    if (closed_) return;
    closed_ = true;
    for (uint32_t w = 0; w < sessions_.size(); ++w) {
      runtime_.WithWorker(w, [&](Worker<T>&) {
        SendPending(w);
        sessions_[w].reset();  // closes the session
      });
    }
  }

  const T& time() const { return time_; }

 private:
  static constexpr size_t kChunk = 4096;

  void Flush(uint32_t w) {
    runtime_.WithWorker(w, [&](Worker<T>&) { SendPending(w); });
  }
  // Under worker `w`'s lock.
  void SendPending(uint32_t w) {
    for (auto& [data, diff] : pending_[w]) sessions_[w]->Update(std::move(data), diff);
    pending_[w].clear();
    sessions_[w]->Flush();
  }

  runtime::Runtime<T>& runtime_;
  std::vector<std::unique_ptr<InputSession<D, T, R>>> sessions_;
  std::vector<std::vector<std::pair<D, R>>> pending_;
  uint32_t next_ = 0;
  T time_{};
  bool closed_ = false;
};

}  // namespace deltaflow::dd
