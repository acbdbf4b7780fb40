// Graph and runtime workloads of the benchmark harness (benchmarks/run.py), one per process,
// each written the same way in benchmarks/reference/dd against differential-dataflow:
//
//   deltaflow_graph_bench <arrange|degree|pagerank|idle|chain> <n> <workers>
//   deltaflow_graph_bench pagerank-csv <edges.csv> <workers>
//
//   arrange   n distinct keys in closed-loop batches of 10k into an arrangement (exchange,
//             batch formation, trace upkeep) and a probe.
//   degree    n edges of a skewed random graph (n / 8 nodes), arriving in closed-loop batches
//             of 10k, into DegreeDistribution (out-degree per node, then nodes per degree);
//             then update batches of 1, 1,000 and (when n >= 1M) 1M edge changes, each change
//             retracting the oldest live edge and inserting a new one: median latency per size.
//   pagerank  the same edges into PageRank (5 steps, dd/algorithms/pagerank.h), batches of
//             10k; then update batches of 1,000 changes: median latency.
//   idle      a maintained count loaded with 100k keys, then left idle (inputs open) for one
//             second: the process's CPU time over that second.
//   chain     a chain of 1,000 Map operators; n rounds of one update each, every round waited
//             for: rounds/s and time per operator per round.
//   pagerank-csv  the edges of a file of benchmarks/pagerank_bench.py into PageRank as one
//             batch (the C++ side of that benchmark's batch mode).
//
// Node ids: splitmix64 of a fixed seed plus a counter, squared into [0, nodes) (many small ids:
// a skewed, power-law-like degree distribution); the same integer and double arithmetic as
// the reference, so both systems see the same graph. In the load phases (arrange, degree,
// pagerank) each worker's share of a batch is made and fed on a thread of its own, as each
// reference worker makes its own share. Timing is wall clock from the moment the
// dataflow is built; one JSON line is printed:
// {system, workload, keys, workers, seconds, cpu_seconds, updates_per_s, peak_rss_kb, ...}.
#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "deltaflow/dd/algorithms/degrees.h"
#include "deltaflow/dd/algorithms/pagerank.h"
#include "deltaflow/dd/collection.h"
#include "deltaflow/dd/operators/arrange.h"
#include "deltaflow/dd/operators/reduce.h"
#include "deltaflow/runtime/runtime.h"
#include "deltaflow/runtime/worker.h"

namespace deltaflow::dd {
namespace {

using Time = uint64_t;
using algorithms::Edge;

constexpr int64_t kBatchSize = 10'000;
constexpr uint64_t kSeed = 0x5eed'de17'af10'0000ULL;

uint64_t SplitMix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

uint64_t Skewed(uint64_t h, uint64_t nodes) {
  double u = static_cast<double>(h >> 11) * 0x1.0p-53;
  return static_cast<uint64_t>(u * u * static_cast<double>(nodes));
}

// Edge number `i` of the fixed sequence.
Edge EdgeAt(uint64_t i, uint64_t nodes) {
  return {Skewed(SplitMix64(kSeed + 2 * i), nodes), Skewed(SplitMix64(kSeed + 2 * i + 1), nodes)};
}

double Now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

// User + system CPU seconds of the whole process, from /proc/self/stat.
double ProcessCpuSeconds() {
  std::ifstream f("/proc/self/stat");
  std::string stat((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  std::istringstream rest(stat.substr(stat.rfind(')') + 2));
  std::string field;
  uint64_t utime = 0, stime = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14) utime = std::stoull(field);
    if (i == 15) stime = std::stoull(field);
  }
  return static_cast<double>(utime + stime) / 100.0;
}

uint64_t PeakRssKb() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::strtoull(line.c_str() + 6, nullptr, 10);
  }
  return 0;
}

[[noreturn]] void Die(const absl::Status& status) {
  std::fprintf(stderr, "%s\n", std::string(status.message()).c_str());
  std::exit(1);
}

// One thread per worker after the first, kept for the whole run (as each reference worker
// is a thread of its own): `Run(f)` calls `f(w)` on thread w for w >= 1 and `f(0)` on the
// caller, and returns when all have returned.
class Feeders {
 public:
  explicit Feeders(uint32_t workers) {
    for (uint32_t w = 1; w < workers; ++w) threads_.emplace_back([this, w] { Loop(w); });
  }
  ~Feeders() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopped_ = true;
    }
    start_.notify_all();
    for (auto& t : threads_) t.join();
  }

  void Run(const std::function<void(uint32_t)>& f) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      task_ = &f;
      running_ = threads_.size();
      ++generation_;
    }
    start_.notify_all();
    f(0);
    std::unique_lock<std::mutex> lock(mutex_);
    done_.wait(lock, [&] { return running_ == 0; });
  }

 private:
  void Loop(uint32_t w) {
    uint64_t seen = 0;
    std::unique_lock<std::mutex> lock(mutex_);
    while (true) {
      start_.wait(lock, [&] { return stopped_ || generation_ != seen; });
      if (stopped_) return;
      seen = generation_;
      const auto* task = task_;
      lock.unlock();
      (*task)(w);
      lock.lock();
      if (--running_ == 0) done_.notify_one();
    }
  }

  std::vector<std::thread> threads_;
  std::mutex mutex_;
  std::condition_variable start_, done_;
  const std::function<void(uint32_t)>* task_ = nullptr;
  size_t running_ = 0;
  uint64_t generation_ = 0;
  bool stopped_ = false;
};

// A dataflow on `workers` workers of the oneTBB runtime, fed round by round: each round's
// changes are spread over the workers' inputs, and the round ends when every probe has
// passed its time.
template <typename D>
class Rounds {
 public:
  using Dataflow = std::function<ProbeHandle<Time>(const Collection<D, Time, int64_t>&)>;

  Rounds(uint32_t workers, const Dataflow& dataflow) : workers_(workers), feeders_(workers) {
    runtime_ = std::make_unique<runtime::Runtime<Time>>(runtime::RuntimeOptions{.workers = workers, .threads = workers});
    runtime_->Build([&](Worker<Time>& worker) {
      auto [input, collection] = NewInput<D>(worker);
      probes_.push_back(dataflow(collection));
      inputs_.push_back(std::move(input));
    });
    if (absl::Status s = runtime_->Start(); !s.ok()) Die(s);
  }

  // Sends `changes` (data, diff) as one round and waits for it; returns its seconds.
  double Round(const std::vector<std::pair<D, int64_t>>& changes) {
    return RoundOf(changes.size(), [&](size_t i) { return changes[i]; });
  }

  // As `Round`, for `count` changes made by `change(i)`: each worker's share is made and fed
  // on its own thread (as each differential-dataflow worker makes its own share of the batch),
  // so making the input is not a serial part of a round.
  template <typename F>
  double RoundOf(size_t count, const F& change) {
    double start = Now();
    const size_t share = (count + workers_ - 1) / workers_;
    const std::function<void(uint32_t)> feed = [&](uint32_t w) {
      runtime_->WithWorker(w, [&](Worker<Time>&) {
        for (size_t i = w * share; i < std::min(count, (w + 1) * share); ++i) {
          auto [data, diff] = change(i);
          inputs_[w]->Update(std::move(data), diff);
        }
        inputs_[w]->AdvanceTo(time_ + 1);
      });
    };
    // Small rounds (latency probes) are fed in turn: handing work to a thread costs more.
    if (count >= static_cast<size_t>(kBatchSize)) {
      feeders_.Run(feed);
    } else {
      for (uint32_t w = 0; w < workers_; ++w) feed(w);
    }
    absl::Status s = runtime_->WaitUntil(
        [&] { return std::none_of(probes_.begin(), probes_.end(), [&](const auto& p) { return p.LessThan(time_ + 1); }); });
    if (!s.ok()) Die(s);
    ++time_;
    return Now() - start;
  }

  void Close() {
    for (uint32_t w = 0; w < workers_; ++w) runtime_->WithWorker(w, [&](Worker<Time>&) { inputs_[w].reset(); });
    if (absl::Status s = runtime_->WaitUntilDone(); !s.ok()) Die(s);
  }

 private:
  uint32_t workers_;
  Feeders feeders_;
  std::unique_ptr<runtime::Runtime<Time>> runtime_;
  std::vector<std::unique_ptr<InputSession<D, Time, int64_t>>> inputs_;
  std::vector<ProbeHandle<Time>> probes_;
  Time time_ = 0;
};

double Median(std::vector<double> xs) {
  std::sort(xs.begin(), xs.end());
  return xs.empty() ? 0.0 : xs[xs.size() / 2];
}

struct Result {
  double seconds = 0;
  double cpu_seconds = 0;
  double updates_per_s = 0;
  std::string extra;  // more JSON fields, each starting with ", "
};

// Loads edges 0..n-1 in batches of 10k, then runs update rounds of each size in `sizes`
// (`reps` rounds each), every change replacing the oldest live edge with the next new one.
Result GraphWorkload(Rounds<Edge>& rounds, int64_t n, const std::vector<std::pair<int64_t, int>>& sizes) {
  const uint64_t nodes = std::max<uint64_t>(16, static_cast<uint64_t>(n) / 8);
  Result r;
  double cpu = ProcessCpuSeconds();
  double start = Now();
  std::vector<std::pair<Edge, int64_t>> batch;
  for (int64_t begin = 0; begin < n; begin += kBatchSize) {
    const auto size = static_cast<size_t>(std::min(n - begin, kBatchSize));
    rounds.RoundOf(size, [&](size_t i) { return std::pair<Edge, int64_t>(EdgeAt(static_cast<uint64_t>(begin) + i, nodes), 1); });
  }
  r.seconds = Now() - start;
  r.cpu_seconds = ProcessCpuSeconds() - cpu;
  r.updates_per_s = static_cast<double>(n) / r.seconds;
  uint64_t oldest = 0, next = static_cast<uint64_t>(n);
  r.extra = ", \"latency_ms\": {";
  bool first = true;
  for (auto [size, reps] : sizes) {
    std::vector<double> times;
    for (int k = 0; k < reps; ++k) {
      batch.clear();
      for (int64_t i = 0; i < size; ++i) {
        batch.push_back({EdgeAt(oldest++, nodes), -1});
        batch.push_back({EdgeAt(next++, nodes), 1});
      }
      times.push_back(rounds.Round(batch));
    }
    r.extra += (first ? "" : ", ") + std::string("\"") + std::to_string(size) + "\": " + std::to_string(Median(times) * 1e3);
    first = false;
  }
  r.extra += "}";
  return r;
}

Result Degree(int64_t n, uint32_t workers) {
  Rounds<Edge> rounds(workers, [](const Collection<Edge, Time, int64_t>& edges) {
    return algorithms::DegreeDistribution(edges).Probe();
  });
  std::vector<std::pair<int64_t, int>> sizes = {{1, 50}, {1000, 20}};
  if (n >= 1'000'000) sizes.push_back({1'000'000, 2});
  Result r = GraphWorkload(rounds, n, sizes);
  rounds.Close();
  return r;
}

Result PageRank(int64_t n, uint32_t workers) {
  Rounds<Edge> rounds(workers, [](const Collection<Edge, Time, int64_t>& edges) {
    return algorithms::PageRank(edges, 5).Probe();
  });
  Result r = GraphWorkload(rounds, n, {{1000, 10}});
  rounds.Close();
  return r;
}

// The edges of a CSV file written by benchmarks/pagerank_bench.py (header `a,b`) into
// PageRank as one batch: the C++ side of that benchmark's batch mode (the cost of the Python
// layer). Reading the file is not timed.
Result PageRankCsv(const std::string& path, uint32_t workers) {
  std::ifstream f(path);
  if (!f) Die(absl::NotFoundError("cannot read " + path));
  std::vector<std::pair<Edge, int64_t>> edges;
  std::string line;
  std::getline(f, line);  // header
  while (std::getline(f, line)) {
    char* end = nullptr;
    uint64_t a = std::strtoull(line.c_str(), &end, 10);
    uint64_t b = std::strtoull(end + 1, nullptr, 10);
    edges.push_back({{a, b}, 1});
  }
  Rounds<Edge> rounds(workers, [](const Collection<Edge, Time, int64_t>& input) {
    return algorithms::PageRank(input, 5).Probe();
  });
  Result r;
  double cpu = ProcessCpuSeconds();
  double start = Now();
  rounds.Round(edges);
  r.seconds = Now() - start;
  r.cpu_seconds = ProcessCpuSeconds() - cpu;
  r.updates_per_s = static_cast<double>(edges.size()) / r.seconds;
  rounds.Close();
  return r;
}

// n distinct keys (the sequence of deltaflow_dd_bench) in closed-loop batches of 10k into
// input -> exchange -> arrange -> probe: the arrangement's batch formation and trace upkeep,
// on the runtime, with the dataflow around it (as the reference's `arrange`). A reader of
// each worker's trace, in an operator after it, advances its logical and physical compaction
// to that operator's input frontier, as the reference does after each batch, so each
// worker's spine merges as it goes (on its own thread).
Result ArrangeKeys(int64_t n, uint32_t workers) {
  Rounds<uint64_t> rounds(workers, [](const Collection<uint64_t, Time, int64_t>& keys) {
    auto arranged = ArrangeBySelf(keys);
    using Arranged = decltype(arranged);
    auto reader = std::make_shared<typename Arranged::Handle>(arranged.NewHandle());
    Collection<typename Arranged::BatchPtr, Time, int64_t> batches(&arranged.worker(), arranged.batches());
    auto compacted = batches.template Unary<typename Arranged::BatchPtr>("Compact", [reader](auto& input, auto&, auto& op) {
      input.ForEach([](const Time&, auto&) {});
      const time::Antichain<Time>& frontier = op.InputFrontier(0);
      if (frontier.IsEmpty()) return;
      reader->SetLogicalCompaction(frontier);
      reader->SetPhysicalCompaction(frontier);
    });
    return compacted.Probe();
  });
  Result r;
  double cpu = ProcessCpuSeconds();
  double start = Now();
  for (int64_t begin = 0; begin < n; begin += kBatchSize) {
    const auto size = static_cast<size_t>(std::min(n - begin, kBatchSize));
    rounds.RoundOf(size, [&](size_t i) {
      return std::pair<uint64_t, int64_t>(SplitMix64(kSeed + static_cast<uint64_t>(begin) + i), 1);
    });
  }
  r.seconds = Now() - start;
  r.cpu_seconds = ProcessCpuSeconds() - cpu;
  r.updates_per_s = static_cast<double>(n) / r.seconds;
  rounds.Close();
  return r;
}

Result Idle(int64_t, uint32_t workers) {
  Rounds<uint64_t> rounds(workers, [](const Collection<uint64_t, Time, int64_t>& keys) { return Count(keys).Probe(); });
  std::vector<std::pair<uint64_t, int64_t>> batch;
  for (int64_t b = 0; b < 10; ++b) {
    batch.clear();
    for (int64_t i = 0; i < kBatchSize; ++i) batch.push_back({SplitMix64(kSeed + static_cast<uint64_t>(b * kBatchSize + i)), 1});
    rounds.Round(batch);
  }
  Result r;
  double cpu = ProcessCpuSeconds();
  double start = Now();
  std::this_thread::sleep_for(std::chrono::seconds(1));
  r.seconds = Now() - start;
  r.cpu_seconds = ProcessCpuSeconds() - cpu;
  r.extra = ", \"idle_cpu_ms_per_s\": " + std::to_string(r.cpu_seconds / r.seconds * 1e3);
  rounds.Close();
  return r;
}

constexpr int kChainLength = 1000;

Result Chain(int64_t n, uint32_t workers) {
  Rounds<uint64_t> rounds(workers, [](const Collection<uint64_t, Time, int64_t>& input) {
    Collection<uint64_t, Time, int64_t> c = input;
    for (int i = 0; i < kChainLength; ++i) c = c.Map([](uint64_t x) { return x + 1; });
    return c.Probe();
  });
  Result r;
  double cpu = ProcessCpuSeconds();
  double start = Now();
  for (int64_t i = 0; i < n; ++i) rounds.Round({{static_cast<uint64_t>(i), 1}});
  r.seconds = Now() - start;
  r.cpu_seconds = ProcessCpuSeconds() - cpu;
  r.updates_per_s = static_cast<double>(n) / r.seconds;
  r.extra = ", \"ns_per_operator_per_round\": " + std::to_string(r.seconds / static_cast<double>(n) / kChainLength * 1e9);
  rounds.Close();
  return r;
}

}  // namespace
}  // namespace deltaflow::dd

int main(int argc, char** argv) {
  namespace dd = deltaflow::dd;
  if (argc != 4) {
    std::fprintf(stderr, "usage: deltaflow_graph_bench <arrange|degree|pagerank|idle|chain> <n> <workers>\n");
    return 2;
  }
  std::string workload = argv[1];
  if (workload == "pagerank-csv") {
    dd::Result r = dd::PageRankCsv(argv[2], static_cast<uint32_t>(std::strtoul(argv[3], nullptr, 10)));
    std::printf("{\"system\": \"deltaflow\", \"workload\": \"pagerank-csv\", \"seconds\": %.6f, "
                "\"cpu_seconds\": %.2f, \"edges_per_s\": %.1f, \"peak_rss_kb\": %llu}\n",
                r.seconds, r.cpu_seconds, r.updates_per_s, static_cast<unsigned long long>(dd::PeakRssKb()));
    return 0;
  }
  int64_t n = std::strtoll(argv[2], nullptr, 10);
  uint32_t workers = static_cast<uint32_t>(std::strtoul(argv[3], nullptr, 10));
  if (n < 1 || workers < 1) {
    std::fprintf(stderr, "n and workers must be positive\n");
    return 2;
  }
  dd::Result r;
  if (workload == "arrange") {
    r = dd::ArrangeKeys(n, workers);
  } else if (workload == "degree") {
    r = dd::Degree(n, workers);
  } else if (workload == "pagerank") {
    r = dd::PageRank(n, workers);
  } else if (workload == "idle") {
    r = dd::Idle(n, workers);
  } else if (workload == "chain") {
    r = dd::Chain(n, workers);
  } else {
    std::fprintf(stderr, "unknown workload %s\n", workload.c_str());
    return 2;
  }
  std::printf(
      "{\"system\": \"deltaflow\", \"workload\": \"%s\", \"keys\": %lld, \"workers\": %u, \"seconds\": %.6f, "
      "\"cpu_seconds\": %.2f, \"updates_per_s\": %.1f, \"peak_rss_kb\": %llu%s}\n",
      workload.c_str(), static_cast<long long>(n), workers, r.seconds, r.cpu_seconds, r.updates_per_s,
      static_cast<unsigned long long>(dd::PeakRssKb()), r.extra.c_str());
  return 0;
}
