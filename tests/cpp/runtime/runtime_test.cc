#include "deltaflow/runtime/runtime.h"

#include <gtest/gtest.h>
#include <time.h>

#include <atomic>
#include <chrono>
#include <map>
#include <random>
#include <stdexcept>
#include <thread>
#include <vector>

#include "deltaflow/dd/collection.h"
#include "deltaflow/dd/driver_input.h"
#include "deltaflow/dd/operators/reduce.h"
#include "testing/contents.h"

namespace deltaflow::runtime {
namespace {

using deltaflow::testing::ContentsAt;

using Time = uint64_t;
using dd::CapturedUpdates;
using dd::InputSession;
using dd::ProbeHandle;
using dd::Update;

double ProcessCpuSeconds() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// A word-count-like pipeline on every worker: Count of u64 records.
struct CountPipeline {
  std::vector<std::unique_ptr<InputSession<uint64_t, Time, int64_t>>> inputs;
  std::vector<CapturedUpdates<std::pair<uint64_t, int64_t>, Time, int64_t>> captures;
  std::vector<ProbeHandle<Time>> probes;

  explicit CountPipeline(Runtime<Time>& runtime) {
    runtime.Build([this](Worker<Time>& worker) {
      auto [input, records] = dd::NewInput<uint64_t>(worker);
      auto counts = dd::Count(records);
      captures.push_back(counts.Capture());
      probes.push_back(counts.Probe());
      inputs.push_back(std::move(input));
    });
  }
  // Sessions belong to their workers: close and drop them under each worker's lock.
  void Release(Runtime<Time>& runtime) {
    for (uint32_t w = 0; w < runtime.peers(); ++w) {
      runtime.WithWorker(w, [&](Worker<Time>&) { inputs[w].reset(); });
    }
  }
  bool Passed(Time t) const {
    return std::none_of(probes.begin(), probes.end(), [&](const auto& p) { return p.LessThan(t); });
  }
};

class RuntimeTest : public ::testing::TestWithParam<uint32_t> {};

TEST_P(RuntimeTest, CountOracleOnThreadsMatchesRecomputationAtEveryTime) {
  Runtime<Time> runtime(RuntimeOptions{.workers = GetParam(), .threads = 2});
  CountPipeline pipeline(runtime);
  ASSERT_TRUE(runtime.Start().ok());
  std::mt19937_64 rng(GetParam());
  std::vector<Update<uint64_t, Time, int64_t>> fed;
  for (Time t = 0; t < 40; t += 2) {
    for (uint32_t w = 0; w < runtime.peers(); ++w) {
      runtime.WithWorker(w, [&](Worker<Time>&) {
        for (int i = 0; i < 50; ++i) {
          uint64_t x = rng() % 20;
          int64_t diff = (ContentsAt(fed, t)[x] > 0 && rng() % 3 == 0) ? -1 : 1;
          pipeline.inputs[w]->Update(x, diff);
          fed.push_back({x, t, diff});
        }
        pipeline.inputs[w]->AdvanceTo(t + 2);
      });
    }
    ASSERT_TRUE(runtime.WaitUntil([&] { return pipeline.Passed(t + 2); }).ok());
    std::vector<Update<std::pair<uint64_t, int64_t>, Time, int64_t>> all;
    for (uint32_t w = 0; w < runtime.peers(); ++w) {
      runtime.WithWorker(w, [&](Worker<Time>&) {
        all.insert(all.end(), pipeline.captures[w]->begin(), pipeline.captures[w]->end());
      });
    }
    std::map<std::pair<uint64_t, int64_t>, int64_t> expected;
    for (const auto& [x, n] : ContentsAt(fed, t)) expected[{x, n}] = 1;
    ASSERT_EQ(ContentsAt(all, t), expected) << "time " << t;
  }
  for (uint32_t w = 0; w < runtime.peers(); ++w) {
    runtime.WithWorker(w, [&](Worker<Time>&) { pipeline.inputs[w]->Close(); });
  }
  {
    absl::Status done = runtime.WaitUntilDone(absl::Seconds(60));
    EXPECT_TRUE(done.ok()) << done;
  }
}

TEST_P(RuntimeTest, IdleDataflowUsesNoCpu) {
  Runtime<Time> runtime(RuntimeOptions{.workers = GetParam(), .threads = 2});
  CountPipeline pipeline(runtime);
  ASSERT_TRUE(runtime.Start().ok());
  for (uint32_t w = 0; w < runtime.peers(); ++w) {
    runtime.WithWorker(w, [&](Worker<Time>&) {
      pipeline.inputs[w]->Insert(w);
      pipeline.inputs[w]->AdvanceTo(2);
    });
  }
  ASSERT_TRUE(runtime.WaitUntil([&] { return pipeline.Passed(2); }).ok());
  // Let thread pools settle, then measure the CPU the whole process uses over an idle second.
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  double before = ProcessCpuSeconds();
  std::this_thread::sleep_for(std::chrono::seconds(1));
  double used = ProcessCpuSeconds() - before;
  EXPECT_LT(used, 0.05) << "an idle dataflow burned " << used << " s of CPU in one second";
  for (uint32_t w = 0; w < runtime.peers(); ++w) {
    runtime.WithWorker(w, [&](Worker<Time>&) { pipeline.inputs[w]->Close(); });
  }
  {
    absl::Status done = runtime.WaitUntilDone(absl::Seconds(60));
    EXPECT_TRUE(done.ok()) << done;
  }
}

TEST_P(RuntimeTest, AnErrorOnOneWorkerStopsTheRunWithThatError) {
  Runtime<Time> runtime(RuntimeOptions{.workers = GetParam(), .threads = 2});
  std::vector<std::unique_ptr<InputSession<uint64_t, Time, int64_t>>> inputs;
  std::vector<ProbeHandle<Time>> probes;
  runtime.Build([&](Worker<Time>& worker) {
    auto [input, records] = dd::NewInput<uint64_t>(worker);
    auto checked = dd::Count(records).Map([](const std::pair<uint64_t, int64_t>& kv) {
      if (kv.first == 13) throw std::runtime_error("unlucky record 13");
      return kv.first;
    });
    probes.push_back(checked.Probe());
    inputs.push_back(std::move(input));
  });
  ASSERT_TRUE(runtime.Start().ok());
  runtime.WithWorker(0, [&](Worker<Time>&) {
    for (uint64_t x = 0; x < 20; ++x) inputs[0]->Insert(x);
  });
  for (uint32_t w = 0; w < runtime.peers(); ++w) {
    runtime.WithWorker(w, [&](Worker<Time>&) { inputs[w]->AdvanceTo(2); });
  }
  // Waiting for a time that can never complete returns the error instead of hanging.
  absl::Status status = runtime.WaitUntil([&] { return false; });
  EXPECT_TRUE(absl::IsInternal(status)) << status;
  EXPECT_NE(std::string(status.message()).find("unlucky record 13"), std::string::npos) << status;
  EXPECT_FALSE(runtime.WaitUntilDone().ok());
  for (uint32_t w = 0; w < runtime.peers(); ++w) {
    runtime.WithWorker(w, [&](Worker<Time>&) { inputs[w].reset(); });
  }
}

TEST_P(RuntimeTest, ManyRuntimesInTurnShutDownCleanly) {
  for (int run = 0; run < 5; ++run) {
    Runtime<Time> runtime(RuntimeOptions{.workers = GetParam(), .threads = 2});
    CountPipeline pipeline(runtime);
    ASSERT_TRUE(runtime.Start().ok());
    for (uint32_t w = 0; w < runtime.peers(); ++w) {
      runtime.WithWorker(w, [&](Worker<Time>&) {
        pipeline.inputs[w]->Insert(run);
        pipeline.inputs[w]->Close();
      });
    }
    {
      absl::Status done = runtime.WaitUntilDone(absl::Seconds(60));
      ASSERT_TRUE(done.ok()) << done;
    }
    int64_t total = 0;
    for (const auto& c : pipeline.captures) {
      for (const auto& u : *c) total += u.diff * u.data.second;
    }
    EXPECT_EQ(total, static_cast<int64_t>(runtime.peers()));
  }
}

TEST_P(RuntimeTest, DriverInputFeedsEveryWorkerAndClosesOnDestruction) {
  Runtime<Time> runtime(RuntimeOptions{.workers = GetParam(), .threads = 2});
  std::vector<CapturedUpdates<std::pair<uint64_t, int64_t>, Time, int64_t>> captures;
  std::vector<ProbeHandle<Time>> probes;
  auto input = std::make_unique<dd::DriverInput<uint64_t, Time>>(runtime);
  runtime.Build([&](Worker<Time>& worker) {
    auto counts = dd::Count(input->Attach(worker));
    captures.push_back(counts.Capture());
    probes.push_back(counts.Probe());
  });
  ASSERT_TRUE(runtime.Start().ok());
  std::mt19937_64 rng(GetParam() + 7);
  std::vector<Update<uint64_t, Time, int64_t>> fed;
  for (Time t = 0; t < 10; t += 2) {
    for (int i = 0; i < 10'000; ++i) {  // several chunks, spread over the workers
      uint64_t x = rng() % 50;
      input->Insert(x);
      fed.push_back({x, t, 1});
    }
    input->AdvanceTo(t + 2);
    absl::Status passed = runtime.WaitUntil(
        [&] {
          return std::none_of(probes.begin(), probes.end(),
                              [&](const auto& p) { return p.LessThan(t + 2); });
        },
        absl::Seconds(60));
    ASSERT_TRUE(passed.ok()) << passed;
    std::vector<Update<std::pair<uint64_t, int64_t>, Time, int64_t>> all;
    for (uint32_t w = 0; w < runtime.peers(); ++w) {
      runtime.WithWorker(w, [&](Worker<Time>&) {
        all.insert(all.end(), captures[w]->begin(), captures[w]->end());
      });
    }
    std::map<std::pair<uint64_t, int64_t>, int64_t> expected;
    for (const auto& [x, n] : ContentsAt(fed, t)) expected[{x, n}] = 1;
    ASSERT_EQ(ContentsAt(all, t), expected) << "time " << t;
  }
  input.reset();  // closes the input on every worker
  absl::Status done = runtime.WaitUntilDone(absl::Seconds(60));
  EXPECT_TRUE(done.ok()) << done;
}

TEST_P(RuntimeTest, ATimerWakesAnIdleWorker) {
  Runtime<Time> runtime(RuntimeOptions{.workers = GetParam(), .threads = 2});
  std::vector<std::unique_ptr<InputSession<uint64_t, Time, int64_t>>> inputs;
  auto fired = std::make_shared<std::atomic<int>>(0);
  absl::Time requested = absl::Now() + absl::Milliseconds(80);
  runtime.Build([&](Worker<Time>& worker) {
    auto [input, records] = dd::NewInput<uint64_t>(worker);
    auto asked = std::make_shared<bool>(false);
    (void)records.template Unary<uint64_t>(
        "Timed", [asked, fired, requested](auto& in, auto& out, auto& op) {
          in.ForEach([&](const Time& t, auto& updates) { out.Send(t, std::move(updates)); });
          if (!*asked) {
            *asked = true;
            op.owner().ActivateAt(op.index(), requested);
          } else if (absl::Now() >= requested) {
            fired->fetch_add(1);
          }
        });
    inputs.push_back(std::move(input));
  });
  ASSERT_TRUE(runtime.Start().ok());
  // Nothing else happens: only the timer can wake the workers.
  absl::Status status = runtime.WaitUntil(
      [&] { return fired->load() == static_cast<int>(runtime.peers()); }, absl::Seconds(10));
  EXPECT_TRUE(status.ok()) << status;
  EXPECT_GE(absl::Now(), requested);
  for (uint32_t w = 0; w < runtime.peers(); ++w) {
    runtime.WithWorker(w, [&](Worker<Time>&) { inputs[w].reset(); });
  }
}

INSTANTIATE_TEST_SUITE_P(Workers, RuntimeTest, ::testing::Values(1u, 2u, 4u),
                         [](const auto& info) { return std::to_string(info.param) + "workers"; });

}  // namespace
}  // namespace deltaflow::runtime
