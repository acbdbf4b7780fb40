// Runtime: runs W workers of one dataflow on a oneTBB arena.
//
// Each worker runs as a sequence of *steps* (`Worker::Step`), each a bounded amount of work.
// A woken worker joins a queue of ready workers, which at most one oneTBB task per thread
// ("pumps") drain, one step at a time; no task waits for another worker, so any number of
// workers runs correctly on any number of threads (4 workers on 2 cores included). A worker
// is scheduled only when woken: by a peer sending it data or progress, by the driver giving
// it input, by its own timer (`Worker::ActivateAt`, served by one sleeping timer thread), or
// by itself when a step leaves work to do. A dataflow with nothing to do therefore has no
// task at all and uses no CPU.
//
// The driver — the thread that owns the `Runtime` — builds the same graph on every worker
// (`Build`), starts the run (`Start`), feeds inputs through `WithWorker` (which excludes the
// worker's own steps while it runs, then wakes the worker) and waits with `WaitUntil`. The
// first worker to fail (a `Worker::Fail`, or an exception escaping an operator) stops the
// run: every wait returns that error and no further steps are scheduled.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "deltaflow/runtime/communicator.h"
#include "deltaflow/runtime/worker.h"
#include "oneapi/tbb/global_control.h"
#include "oneapi/tbb/task_arena.h"

namespace deltaflow::runtime {

struct RuntimeOptions {
  /// Logical workers, each with its own copy of the dataflow and shard of the data.
  uint32_t workers = 1;
  /// Threads that run worker steps; 0 means min(workers, hardware threads).
  uint32_t threads = 0;
};

template <time::Lattice T>
class Runtime final : private Waker {
 public:
  explicit Runtime(RuntimeOptions options)
      : threads_(ThreadsFor(options)),
        control_(tbb::global_control::max_allowed_parallelism, threads_ + 1),
        arena_(static_cast<int>(threads_), /*reserved_for_masters=*/0),
        communicator_(options.workers, this),
        slots_(options.workers) {
    DELTAFLOW_CHECK(options.workers > 0, "a runtime needs at least one worker");
    for (uint32_t w = 0; w < options.workers; ++w) {
      slots_[w].worker = std::make_unique<Worker<T>>(w, options.workers, &communicator_);
    }
  }

  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;

  /// Stops scheduling and waits for running steps to finish.
  ~Runtime() {
    {
      std::lock_guard<std::mutex> lock(wait_mutex_);
      stopped_ = true;
    }
    {
      std::lock_guard<std::mutex> lock(timer_mutex_);
      timers_stopped_ = true;
    }
    timer_changed_.notify_all();
    if (timer_thread_.joinable()) timer_thread_.join();
    std::unique_lock<std::mutex> lock(wait_mutex_);
    idle_.wait(lock, [this] { return pumps_ == 0; });
  }

  uint32_t peers() const { return static_cast<uint32_t>(slots_.size()); }
  uint32_t threads() const { return threads_; }

  /// Builds the dataflow: calls `build(worker)` for every worker, in order, on this thread.
  /// Only before `Start`.
  template <typename F>
  void Build(F&& build) {
    DELTAFLOW_CHECK(!started_, "Build after Start");
    for (auto& slot : slots_) build(*slot.worker);
  }

  /// Finalizes every worker's graph and schedules every worker once.
  absl::Status Start() {
    DELTAFLOW_CHECK(!started_, "Start called twice");
    for (auto& slot : slots_) {
      if (absl::Status s = slot.worker->Finalize(); !s.ok()) return s;
    }
    {
      std::lock_guard<std::mutex> lock(wait_mutex_);
      started_ = true;
    }
    timer_thread_ = std::thread([this] { RunTimers(); });
    for (uint32_t w = 0; w < slots_.size(); ++w) Wake(w);
    return absl::OkStatus();
  }

  /// Runs `f(worker)` while worker `w` is not stepping (to feed its inputs or read its
  /// outputs), then wakes it.
  template <typename F>
  void WithWorker(uint32_t w, F&& f) {
    {
      std::lock_guard<std::mutex> lock(slots_[w].mutex);
      f(*slots_[w].worker);
    }
    Wake(w);
  }

  /// Blocks until `done()` holds or a worker fails; `done` is evaluated on this thread, again
  /// whenever the workers run out of work (and at most every millisecond while they are
  /// busy). Returns the failure, if any.
  absl::Status WaitUntil(const std::function<bool()>& done) {
    return WaitUntil(done, absl::InfiniteDuration());
  }

  /// As above, giving up with DeadlineExceeded (and what every worker is doing) after
  /// `timeout`.
  absl::Status WaitUntil(const std::function<bool()>& done, absl::Duration timeout) {
    absl::StatusOr<bool> reached = WaitFor(done, timeout);
    if (!reached.ok()) return reached.status();
    if (*reached) return absl::OkStatus();
    return absl::DeadlineExceededError("dataflow did not reach the awaited state:\n" + DebugState());
  }

  /// Blocks until `done()` holds (true), `timeout` passes (false) or a worker fails (the
  /// failure). Cheap enough to call in a polling loop.
  absl::StatusOr<bool> WaitFor(const std::function<bool()>& done, absl::Duration timeout) {
    absl::Time deadline = absl::Now() + timeout;
    std::unique_lock<std::mutex> lock(wait_mutex_);
    while (true) {
      if (!failure_.ok()) return failure_;
      uint64_t seen = steps_;
      lock.unlock();
      bool satisfied = done();
      lock.lock();
      if (satisfied) {
        if (!failure_.ok()) return failure_;
        return true;
      }
      auto changed = [&] { return steps_ != seen || !failure_.ok(); };
      if (timeout == absl::InfiniteDuration()) {
        stepped_.wait(lock, changed);
      } else if (!stepped_.wait_until(lock, absl::ToChronoTime(deadline), changed)) {
        return false;
      }
    }
  }

  /// What every worker is doing, for diagnostics. Takes each worker's lock in turn, never
  /// while holding the runtime's own lock (a stepping worker takes them in the other order).
  std::string DebugState() {
    std::string out;
    for (uint32_t w = 0; w < slots_.size(); ++w) {
      Slot& slot = slots_[w];
      std::lock_guard<std::mutex> lock(slot.mutex);
      out += "worker " + std::to_string(w) + ": queued=" + std::to_string(slot.queued.load()) + " " +
             slot.worker->DebugState() + "\n";
    }
    std::lock_guard<std::mutex> lock(wait_mutex_);
    out += "pumps=" + std::to_string(pumps_) + " ready=" + std::to_string(ready_.size()) +
           " steps=" + std::to_string(steps_);
    return out;
  }

  /// Blocks until every worker's dataflow is complete (all inputs closed and drained), or
  /// `timeout` passes.
  absl::Status WaitUntilDone(absl::Duration timeout = absl::InfiniteDuration()) {
    return WaitUntil([this] {
      for (uint32_t w = 0; w < slots_.size(); ++w) {
        std::lock_guard<std::mutex> lock(slots_[w].mutex);
        if (!slots_[w].worker->Done()) return false;
      }
      return true;
    }, timeout);
  }

  /// The first failure, or OK.
  absl::Status status() {
    std::lock_guard<std::mutex> lock(wait_mutex_);
    return failure_;
  }

  /// Schedules a step of worker `w` unless one is already queued. Thread-safe.
  void Wake(uint32_t w) override {
    Slot& slot = slots_[w];
    if (slot.queued.exchange(true, std::memory_order_acq_rel)) return;
    bool start_pump = false;
    {
      std::lock_guard<std::mutex> lock(wait_mutex_);
      if (stopped_ || !failure_.ok() || !started_) {
        slot.queued.store(false, std::memory_order_release);
        return;
      }
      ready_.push_back(w);
      ready_hint_.store(ready_.size(), std::memory_order_release);
      // Up to one pump per thread: a pump busy with a long step must not hold up others.
      // Lingering pumps take ready workers without a new task.
      if (pumps_ < threads_ && ready_.size() > lingering_) {
        ++pumps_;
        start_pump = true;
      }
    }
    if (start_pump) arena_.enqueue(PumpTask{this});
  }

 private:
  // The task that runs steps: it takes ready workers from the queue, one step each, until the
  // queue is empty. Pumps stay in the arena while there is work — oneTBB lets threads that
  // ran out of tasks leave the arena and is slow to bring them back, so one short task per
  // step would serialise the workers — and end when there is none, so an idle dataflow has no
  // task. Its field is written by the waking thread and read by the running one; oneTBB
  // orders the two, but Debian's libtbb is not built for ThreadSanitizer, so only that read is
  // exempt from checking: the steps themselves are checked.
  struct PumpTask {
    Runtime* runtime;
    __attribute__((no_sanitize("thread"), noinline)) void operator()() const {
      Runtime* r = runtime;
      r->Pump();
    }
  };

  void Pump() {
    // Pairs with the release store of the `Wake` that started this pump, so that what the
    // waker did (the runtime's construction included) is visibly ordered before this thread
    // touches the runtime: oneTBB's hand-over orders it too, but is not built for TSan.
    (void)ready_hint_.load(std::memory_order_acquire);
    const uint64_t pump = ThisThreadId();
    std::unique_lock<std::mutex> lock(wait_mutex_);
    while (true) {
      if (ready_.empty() && !stopped_ && failure_.ok()) {
        // Linger briefly before leaving: in a busy dataflow the next wake-up is usually
        // microseconds away, and a thread that leaves the arena comes back slowly. A
        // lingering pump takes the next ready worker, so `Wake` starts no pump for it.
        ++lingering_;
        lock.unlock();
        auto linger_until = std::chrono::steady_clock::now() + kLinger;
        while (ready_hint_.load(std::memory_order_acquire) == 0 &&
               std::chrono::steady_clock::now() < linger_until) {
          std::this_thread::yield();
        }
        lock.lock();
        --lingering_;
      }
      if (ready_.empty() || stopped_ || !failure_.ok()) {
        // Last: once no pump runs the runtime may be destroyed, so notify under the lock
        // and touch nothing afterwards.
        --pumps_;
        idle_.notify_all();
        return;
      }
      // Prefer a worker this thread stepped last: its batches and buffers are likely still
      // in this core's caches (a worker that moves between cores refetches them from memory
      // on every move). Otherwise the longest-waiting one.
      auto next = std::find_if(ready_.begin(), ready_.end(),
                               [&](uint32_t w) { return slots_[w].last_pump == pump; });
      if (next == ready_.end()) next = ready_.begin();
      const uint32_t w = *next;
      ready_.erase(next);
      slots_[w].last_pump = pump;
      ready_hint_.store(ready_.size(), std::memory_order_release);
      ++stepping_;
      lock.unlock();
      RunStep(w);
      lock.lock();
    }
  }

  struct Slot {
    std::unique_ptr<Worker<T>> worker;
    std::mutex mutex;  // held while the worker steps, and by WithWorker
    std::atomic<bool> queued{false};
    uint64_t last_pump = 0;  // the thread that last stepped it (`ThisThreadId`); under wait_mutex_
  };

  // A number for the calling thread, unique in the process and never 0.
  static uint64_t ThisThreadId() {
    static std::atomic<uint64_t> next{1};
    thread_local const uint64_t id = next.fetch_add(1, std::memory_order_relaxed);
    return id;
  }

  // Remembers that worker `w` wants to be woken at `deadline` (its earliest timer).
  void ScheduleTimer(uint32_t w, absl::Time deadline) {
    if (deadline == absl::InfiniteFuture()) return;
    {
      std::lock_guard<std::mutex> lock(timer_mutex_);
      auto [it, inserted] = timer_deadlines_.emplace(w, deadline);
      if (!inserted) {
        if (it->second <= deadline) return;
        it->second = deadline;
      }
    }
    timer_changed_.notify_all();
  }

  // The timer thread: sleeps until the earliest requested deadline, then wakes its worker.
  // It blocks only itself, and uses no CPU while no timer is due.
  void RunTimers() {
    std::unique_lock<std::mutex> lock(timer_mutex_);
    while (!timers_stopped_) {
      absl::Time earliest = absl::InfiniteFuture();
      for (const auto& [w, deadline] : timer_deadlines_) earliest = std::min(earliest, deadline);
      if (earliest == absl::InfiniteFuture()) {
        timer_changed_.wait(lock);
        continue;
      }
      if (absl::Now() < earliest) {
        timer_changed_.wait_until(lock, absl::ToChronoTime(earliest));
        continue;
      }
      std::vector<uint32_t> due;
      absl::Time now = absl::Now();
      for (auto it = timer_deadlines_.begin(); it != timer_deadlines_.end();) {
        if (it->second <= now) {
          due.push_back(it->first);
          timer_deadlines_.erase(it++);
        } else {
          ++it;
        }
      }
      lock.unlock();
      for (uint32_t w : due) Wake(w);
      lock.lock();
    }
  }

  static uint32_t ThreadsFor(const RuntimeOptions& options) {
    if (options.threads > 0) return options.threads;
    uint32_t hardware = std::max(1u, std::thread::hardware_concurrency());
    return std::min(options.workers, hardware);
  }

  void RunStep(uint32_t w) {
    // What the waker did before waking (building the graph, feeding input) happens before
    // this step: it queued the worker under `wait_mutex_`, which the pump took to dequeue it.
    Slot& slot = slots_[w];
    // From here on a wake-up queues another step, so nothing that arrives now is missed.
    slot.queued.store(false, std::memory_order_release);
    bool again = false;
    absl::Status failure;
    {
      std::lock_guard<std::mutex> lock(slot.mutex);
      try {
        // One step, then back to the queue: a worker stepping on would hold its lock while
        // another pump, taking it from the queue for a wake-up, waits for it.
        again = slot.worker->Step();
        again = again || slot.worker->HasExternalInput();
      } catch (const std::exception& e) {
        slot.worker->Fail(absl::InternalError(std::string("worker ") + std::to_string(w) +
                                              " failed: " + e.what()));
      } catch (...) {
        slot.worker->Fail(absl::InternalError("worker " + std::to_string(w) +
                                              " failed with an unknown exception"));
      }
      // Fresh copies, never shared: statuses share a reference-counted payload, and Debian's
      // libabsl (not built for ThreadSanitizer) would hide how its count orders threads.
      const absl::Status& status = slot.worker->status();
      if (!status.ok()) failure = absl::Status(status.code(), std::string(status.message()));
      ScheduleTimer(w, slot.worker->NextTimer());
    }
    {
      std::lock_guard<std::mutex> lock(wait_mutex_);
      ++steps_;
      --stepping_;
      if (!failure.ok() && failure_.ok()) failure_ = std::move(failure);
      // Waiters re-check their condition when every worker has run out of work, on a failure,
      // and otherwise at most once per `kNotifyInterval` of steps: waking the waiting thread
      // after every step would take a core from the workers.
      const bool quiescent = !again && ready_.empty() && stepping_ == 0;
      const auto now = std::chrono::steady_clock::now();
      if (quiescent || !failure_.ok() || now - last_notify_ >= kNotifyInterval) {
        last_notify_ = now;
        stepped_.notify_all();
      }
    }
    if (again) Wake(w);
  }

  uint32_t threads_;
  tbb::global_control control_;
  tbb::task_arena arena_;
  Communicator communicator_;
  std::vector<Slot> slots_;
  bool started_ = false;

  std::mutex wait_mutex_;
  std::condition_variable stepped_;
  std::condition_variable idle_;
  uint64_t steps_ = 0;
  std::mutex timer_mutex_;
  std::condition_variable timer_changed_;
  std::map<uint32_t, absl::Time> timer_deadlines_;  // per worker, its earliest timer
  bool timers_stopped_ = false;
  std::thread timer_thread_;

  std::deque<uint32_t> ready_;  // workers with a step queued, in wake order
  uint32_t pumps_ = 0;          // running PumpTasks
  uint32_t stepping_ = 0;       // steps in progress
  uint32_t lingering_ = 0;      // pumps waiting briefly for a ready worker
  std::chrono::steady_clock::time_point last_notify_;  // of `stepped_`
  static constexpr std::chrono::microseconds kNotifyInterval{1000};
  std::atomic<size_t> ready_hint_{0};  // ready_.size(), readable without the lock
  static constexpr std::chrono::microseconds kLinger{200};
  bool stopped_ = false;
  absl::Status failure_;
};

}  // namespace deltaflow::runtime
