// A cluster of workers driven by the test's own thread, one step of each in turn: the
// exchange and progress protocols of several workers, deterministically, without threads.
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "deltaflow/runtime/worker.h"
#include "deltaflow/runtime/communicator.h"

namespace deltaflow::testing {

template <typename T>
class LocalCluster {
 public:
  /// `serialize`: workers exchange bytes through each item's Codec, as between processes.
  explicit LocalCluster(uint32_t peers, bool serialize = false)
      : communicator_(peers, nullptr, serialize) {
    for (uint32_t w = 0; w < peers; ++w) {
      workers_.push_back(std::make_unique<dd::Worker<T>>(w, peers, &communicator_));
    }
  }

  uint32_t peers() const { return static_cast<uint32_t>(workers_.size()); }
  dd::Worker<T>& worker(uint32_t w) { return *workers_[w]; }

  absl::Status Finalize() {
    for (auto& w : workers_) {
      if (absl::Status s = w->Finalize(); !s.ok()) return s;
    }
    return absl::OkStatus();
  }

  /// One step of every worker; returns whether any may have more to do.
  bool Step() {
    bool busy = false;
    for (auto& w : workers_) busy |= w->Step();
    for (auto& w : workers_) busy |= w->HasExternalInput();
    return busy;
  }

  /// Steps until `done()` (checked between rounds); fails the test after `max_rounds`.
  bool StepUntil(const std::function<bool()>& done, int max_rounds = 1'000'000) {
    for (int i = 0; i < max_rounds; ++i) {
      if (done()) return true;
      Step();
    }
    return done();
  }

  void StepUntilIdle() {
    while (Step()) {
    }
  }

  bool Done() {
    for (auto& w : workers_) {
      if (!w->Done()) return false;
    }
    return true;
  }

 private:
  runtime::Communicator communicator_;
  std::vector<std::unique_ptr<dd::Worker<T>>> workers_;
};

}  // namespace deltaflow::testing
