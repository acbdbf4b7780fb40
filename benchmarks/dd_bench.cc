// Throughput of the dd core on one worker, after the single-worker experiments of "Shared
// Arrangements: practical inter-query sharing for streaming dataflows" (McSherry et al., VLDB
// 2020): distinct u64 keys arrive in closed-loop batches (a batch is offered only once the
// previous one is fully processed) and each case reports updates per second.
//
//   BM_BatchFormation       MergeBatcher Push + Seal of every batch.
//   BM_BatchFormationStdSort  the baseline: std::sort + consolidating build of the same batch.
//   BM_ArrangementUpkeep    the same, plus Spine::Insert of every sealed batch with logical and
//                           physical compaction advanced to its upper: merges included, the
//                           cost of keeping an arrangement.
//   BM_MaintainedCount      a whole dataflow (input -> Count -> probe), stepped until the probe
//                           passes each batch's time.
//   BM_MaintainedDistinct   the same with Distinct in place of Count.
//   BM_MaintainedCountWorkers  the count on 1 and 2 workers of the oneTBB runtime (wall
//                           time), for the speed-up from one worker to two.
//
// Keys are generated before timing starts; building and tearing down the structures is not
// timed. The argument is the total number of keys: 10M, the recorded configuration, unless
// the environment variable DELTAFLOW_BENCH_KEYS says otherwise (for quick runs). Each case
// is one long run (1000 batches at 10M keys); use --benchmark_repetitions for several.
// See benchmarks/README.md for results.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "deltaflow/dd/collection.h"
#include "deltaflow/dd/operators/arrange.h"
#include "deltaflow/dd/operators/reduce.h"
#include "deltaflow/dd/trace/batcher.h"
#include "deltaflow/dd/trace/spine.h"
#include "deltaflow/runtime/runtime.h"
#include "deltaflow/runtime/worker.h"
#include "deltaflow/time/antichain.h"

namespace deltaflow::dd {
namespace {

constexpr int64_t kBatchSize = 10'000;
constexpr int64_t kFullKeys = 10'000'000;

using Time = uint64_t;
using Frontier = time::Antichain<Time>;

// splitmix64 (Steele, Lea, Flood): a bijection of its counter, so `n` consecutive counters
// give `n` distinct keys.
uint64_t SplitMix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// The first `n` keys of one fixed sequence, generated once per process.
const std::vector<uint64_t>& Keys(int64_t n) {
  static std::vector<uint64_t> keys;
  constexpr uint64_t kSeed = 0x5eed'de17'af10'0000ULL;
  while (static_cast<int64_t>(keys.size()) < n) {
    keys.push_back(SplitMix64(kSeed + keys.size()));
  }
  return keys;
}

void ReportThroughput(benchmark::State& state, int64_t updates) {
  state.SetItemsProcessed(state.iterations() * updates);
  // One worker: the per-worker rate is the rate.
  state.counters["updates_per_worker"] = benchmark::Counter(
      static_cast<double>(state.iterations() * updates), benchmark::Counter::kIsRate);
  state.counters["batch_size"] = static_cast<double>(kBatchSize);
}

void BM_BatchFormation(benchmark::State& state) {
  const int64_t n = state.range(0);
  const std::vector<uint64_t>& keys = Keys(n);
  using Batcher = MergeBatcher<uint64_t, Unit, Time, int64_t>;
  std::vector<Batcher::Update> chunk;
  for (auto _ : state) {
    state.PauseTiming();
    auto batcher = std::make_unique<Batcher>();
    chunk.reserve(kBatchSize);
    state.ResumeTiming();
    Time t = 0;
    for (int64_t begin = 0; begin < n; begin += kBatchSize, ++t) {
      const int64_t end = std::min(n, begin + kBatchSize);
      for (int64_t i = begin; i < end; ++i) chunk.emplace_back(keys[i], Unit{}, t, 1);
      batcher->Push(chunk);
      auto batch = batcher->Seal(Frontier(t + 1));
      benchmark::DoNotOptimize(batch);
    }
    state.PauseTiming();
    batcher.reset();
    state.ResumeTiming();
  }
  ReportThroughput(state, n);
}

// The baseline batch formation is measured against: the same batches sorted with std::sort on
// (key, val, time), consolidated, and built into the same column-wise batch.
void BM_BatchFormationStdSort(benchmark::State& state) {
  const int64_t n = state.range(0);
  const std::vector<uint64_t>& keys = Keys(n);
  using Batch = OrdBatch<uint64_t, Unit, Time, int64_t>;
  std::vector<std::tuple<uint64_t, Unit, Time, int64_t>> chunk;
  chunk.reserve(kBatchSize);
  for (auto _ : state) {
    Time t = 0;
    for (int64_t begin = 0; begin < n; begin += kBatchSize, ++t) {
      const int64_t end = std::min(n, begin + kBatchSize);
      chunk.clear();
      for (int64_t i = begin; i < end; ++i) chunk.emplace_back(keys[i], Unit{}, t, 1);
      std::sort(chunk.begin(), chunk.end(), [](const auto& a, const auto& b) {
        return std::tie(std::get<0>(a), std::get<2>(a)) < std::tie(std::get<0>(b), std::get<2>(b));
      });
      Batch::Builder builder;
      builder.Reserve(chunk.size(), chunk.size(), chunk.size());
      for (const auto& [k, v, time, r] : chunk) builder.Push(k, v, time, r);
      auto batch = builder.Done(Description<Time>(Frontier(t), Frontier(t + 1), Frontier(0)));
      benchmark::DoNotOptimize(batch);
    }
  }
  ReportThroughput(state, n);
}

void BM_ArrangementUpkeep(benchmark::State& state) {
  const int64_t n = state.range(0);
  const std::vector<uint64_t>& keys = Keys(n);
  using Batcher = MergeBatcher<uint64_t, Unit, Time, int64_t>;
  using Trace = Spine<uint64_t, Unit, Time, int64_t>;
  std::vector<Batcher::Update> chunk;
  std::size_t trace_updates = 0;
  std::size_t trace_bytes = 0;
  std::size_t trace_batches = 0;
  for (auto _ : state) {
    state.PauseTiming();
    auto batcher = std::make_unique<Batcher>();
    auto trace = std::make_unique<Trace>();
    chunk.reserve(kBatchSize);
    state.ResumeTiming();
    Time t = 0;
    for (int64_t begin = 0; begin < n; begin += kBatchSize, ++t) {
      const int64_t end = std::min(n, begin + kBatchSize);
      for (int64_t i = begin; i < end; ++i) chunk.emplace_back(keys[i], Unit{}, t, 1);
      batcher->Push(chunk);
      const Frontier upper(t + 1);
      trace->Insert(std::make_shared<const Trace::BatchType>(batcher->Seal(upper)));
      // The only reader needs nothing before the new upper: history may collapse and every
      // batch may be merged. Insert then applies merge fuel proportional to the batch.
      trace->SetPhysicalCompaction(upper);
      trace->SetLogicalCompaction(upper);
    }
    state.PauseTiming();
    trace_updates = trace->Len();
    trace_bytes = trace->ByteSize();
    trace_batches = trace->BatchCount();
    trace.reset();
    batcher.reset();
    state.ResumeTiming();
  }
  ReportThroughput(state, n);
  state.counters["trace_updates"] = static_cast<double>(trace_updates);
  state.counters["trace_MiB"] = static_cast<double>(trace_bytes) / (1 << 20);
  state.counters["trace_batches"] = static_cast<double>(trace_batches);
}

// Input -> `build` -> probe, fed one batch per time and stepped until the probe passes it.
template <typename Build>
void RunMaintained(benchmark::State& state, Build build) {
  const int64_t n = state.range(0);
  const std::vector<uint64_t>& keys = Keys(n);
  for (auto _ : state) {
    state.PauseTiming();
    auto worker = std::make_unique<Worker<Time>>();
    auto [input, collection] = NewInput<uint64_t>(*worker);
    ProbeHandle<Time> probe = build(collection).Probe();
    if (absl::Status status = worker->Finalize(); !status.ok()) {
      state.SkipWithError(std::string(status.message()).c_str());
      return;
    }
    state.ResumeTiming();
    Time t = 0;
    for (int64_t begin = 0; begin < n; begin += kBatchSize, ++t) {
      const int64_t end = std::min(n, begin + kBatchSize);
      for (int64_t i = begin; i < end; ++i) input->Insert(keys[i]);
      input->AdvanceTo(t + 1);
      while (probe.LessThan(t + 1)) worker->Step();
    }
    state.PauseTiming();
    input->Close();
    worker->StepUntilIdle();
    input.reset();
    worker.reset();
    state.ResumeTiming();
  }
  ReportThroughput(state, n);
}

void BM_MaintainedCount(benchmark::State& state) {
  RunMaintained(state, [](const auto& c) { return Count(c); });
}

void BM_MaintainedDistinct(benchmark::State& state) {
  RunMaintained(state, [](const auto& c) { return Distinct(c); });
}

// The maintained count on `workers` workers scheduled by the oneTBB runtime with one thread
// per worker: the driver spreads each batch over the workers' inputs and waits until every
// worker's probe passes its time. Wall-clock time: the point is the speed-up from 1 to W.
void BM_MaintainedCountWorkers(benchmark::State& state) {
  const int64_t n = state.range(0);
  const uint32_t workers = static_cast<uint32_t>(state.range(1));
  const std::vector<uint64_t>& keys = Keys(n);
  for (auto _ : state) {
    state.PauseTiming();
    auto runtime = std::make_unique<runtime::Runtime<Time>>(
        runtime::RuntimeOptions{.workers = workers, .threads = workers});
    std::vector<std::unique_ptr<InputSession<uint64_t, Time, int64_t>>> inputs;
    std::vector<ProbeHandle<Time>> probes;
    runtime->Build([&](Worker<Time>& worker) {
      auto [input, collection] = NewInput<uint64_t>(worker);
      probes.push_back(Count(collection).Probe());
      inputs.push_back(std::move(input));
    });
    if (absl::Status status = runtime->Start(); !status.ok()) {
      state.SkipWithError(std::string(status.message()).c_str());
      return;
    }
    state.ResumeTiming();
    Time t = 0;
    for (int64_t begin = 0; begin < n; begin += kBatchSize, ++t) {
      const int64_t end = std::min(n, begin + kBatchSize);
      const int64_t share = (end - begin + workers - 1) / workers;
      for (uint32_t w = 0; w < workers; ++w) {
        runtime->WithWorker(w, [&](Worker<Time>&) {
          for (int64_t i = begin + w * share; i < std::min(end, begin + (w + 1) * share); ++i) {
            inputs[w]->Insert(keys[i]);
          }
          inputs[w]->AdvanceTo(t + 1);
        });
      }
      absl::Status status = runtime->WaitUntil([&] {
        return std::none_of(probes.begin(), probes.end(),
                            [&](const auto& p) { return p.LessThan(t + 1); });
      });
      if (!status.ok()) {
        state.SkipWithError(std::string(status.message()).c_str());
        return;
      }
    }
    state.PauseTiming();
    for (uint32_t w = 0; w < workers; ++w) {
      runtime->WithWorker(w, [&](Worker<Time>&) { inputs[w].reset(); });
    }
    (void)runtime->WaitUntilDone();
    runtime.reset();
    state.ResumeTiming();
  }
  state.SetItemsProcessed(state.iterations() * n);
  state.counters["updates_per_worker"] = benchmark::Counter(
      static_cast<double>(state.iterations() * n) / workers, benchmark::Counter::kIsRate);
  state.counters["workers"] = workers;
}

}  // namespace
}  // namespace deltaflow::dd

int main(int argc, char** argv) {
  namespace dd = deltaflow::dd;
  // DELTAFLOW_BENCH_KEYS overrides the number of keys (for quick runs); 10M is recorded.
  int64_t keys = dd::kFullKeys;
  if (const char* env = std::getenv("DELTAFLOW_BENCH_KEYS"); env != nullptr && *env != '\0') {
    keys = std::max<int64_t>(dd::kBatchSize, std::strtoll(env, nullptr, 10));
  }
  for (auto [name, fn] : {std::pair{"BM_BatchFormation", &dd::BM_BatchFormation},
                          std::pair{"BM_BatchFormationStdSort", &dd::BM_BatchFormationStdSort},
                          std::pair{"BM_ArrangementUpkeep", &dd::BM_ArrangementUpkeep},
                          std::pair{"BM_MaintainedCount", &dd::BM_MaintainedCount},
                          std::pair{"BM_MaintainedDistinct", &dd::BM_MaintainedDistinct}}) {
    benchmark::RegisterBenchmark(name, fn)
        ->ArgName("keys")
        ->Arg(keys)
        ->Iterations(1)
        ->Unit(benchmark::kMillisecond);
  }
  for (int64_t workers : {1, 2}) {
    benchmark::RegisterBenchmark("BM_MaintainedCountWorkers", &dd::BM_MaintainedCountWorkers)
        ->ArgNames({"keys", "workers"})
        ->Args({keys, workers})
        ->Iterations(1)
        ->UseRealTime()
        ->Unit(benchmark::kMillisecond);
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
