// Progress tracking: target frontiers of pipelines, diamonds and iteration loops, compared
// after every batch of random pointstamp changes with a brute-force fixpoint over the
// graph; and rejection of malformed graphs.
#include "deltaflow/time/progress.h"

#include <algorithm>
#include <cstdint>
#include <map>
#include <random>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "deltaflow/time/antichain.h"
#include "deltaflow/time/lattice.h"
#include "deltaflow/time/path_summary.h"
#include "deltaflow/time/product.h"
#include "gtest/gtest.h"

namespace deltaflow::time {
namespace {

// The frontier of every target, computed from scratch: propagate the minimal times of all
// positive pointstamps along edges and node summaries until nothing changes.
template <typename T, typename S>
std::map<Target, Antichain<T>> BruteFrontiers(
    const Builder<T, S>& builder, const std::map<std::pair<Source, T>, int64_t>& at_sources,
    const std::map<std::pair<Target, T>, int64_t>& at_targets) {
  std::map<Source, Antichain<T>> source_times;
  std::map<Target, Antichain<T>> target_times;
  const auto& nodes = builder.Nodes();
  for (uint32_t n = 0; n < nodes.size(); ++n) {
    for (uint32_t i = 0; i < nodes[n].inputs; ++i) target_times[Target{n, i}];
    for (uint32_t o = 0; o < nodes[n].outputs; ++o) source_times[Source{n, o}];
  }
  for (const auto& [key, count] : at_sources) {
    if (count > 0) source_times[key.first].Insert(key.second);
  }
  for (const auto& [key, count] : at_targets) {
    if (count > 0) target_times[key.first].Insert(key.second);
  }
  bool changed = true;
  while (changed) {
    changed = false;
    for (const auto& edge : builder.Edges()) {
      const Antichain<T> times = source_times[edge.from];
      for (const T& time : times) changed |= target_times[edge.to].Insert(time);
    }
    for (auto& [target, times_at_target] : target_times) {
      const Antichain<T> times = times_at_target;
      const auto& node = nodes[target.node];
      for (uint32_t o = 0; o < node.outputs; ++o) {
        for (const S& summary : node.summary[target.port][o]) {
          for (const T& time : times) {
            if (auto result = summary.ResultsIn(time)) {
              changed |= source_times[Source{target.node, o}].Insert(*result);
            }
          }
        }
      }
    }
  }
  return target_times;
}

// Drives a tracker with random pointstamp changes and checks, after every propagation,
// that each target's frontier and its reported frontier changes match `BruteFrontiers`.
template <typename T, typename S, typename RandomTime>
void CheckAgainstBruteForce(const Builder<T, S>& builder, RandomTime random_time, uint64_t seed,
                            int steps) {
  absl::StatusOr<Tracker<T, S>> built = builder.Build();
  ASSERT_TRUE(built.ok()) << built.status();
  Tracker<T, S>& tracker = *built;

  std::vector<Source> sources;
  std::vector<Target> targets;
  for (uint32_t n = 0; n < builder.Nodes().size(); ++n) {
    for (uint32_t o = 0; o < builder.Nodes()[n].outputs; ++o) sources.push_back(Source{n, o});
    for (uint32_t i = 0; i < builder.Nodes()[n].inputs; ++i) targets.push_back(Target{n, i});
  }

  std::mt19937_64 rng(seed);
  std::map<std::pair<Source, T>, int64_t> at_sources;
  std::map<std::pair<Target, T>, int64_t> at_targets;
  // Each target's frontier rebuilt only from the drained changes.
  std::map<Target, ChangeBatch<T>> reported;
  for (int step = 0; step < steps; ++step) {
    const int changes = 1 + static_cast<int>(rng() % 5);
    for (int c = 0; c < changes; ++c) {
      const bool retract = rng() % 2 == 0;
      int64_t diff = 1 + static_cast<int64_t>(rng() % 2);
      if (rng() % 3 != 0) {
        Source source = sources[rng() % sources.size()];
        T time = random_time(rng);
        if (retract && !at_sources.empty()) {
          auto it = at_sources.begin();
          std::advance(it, rng() % at_sources.size());
          std::tie(source, time) = it->first;
          diff = -diff;  // May go negative: news of a release can overtake its grant.
        }
        at_sources[{source, time}] += diff;
        tracker.UpdateSource(source, time, diff);
      } else {
        Target target = targets[rng() % targets.size()];
        T time = random_time(rng);
        if (retract && !at_targets.empty()) {
          auto it = at_targets.begin();
          std::advance(it, rng() % at_targets.size());
          std::tie(target, time) = it->first;
          diff = -diff;
        }
        at_targets[{target, time}] += diff;
        tracker.UpdateTarget(target, time, diff);
      }
    }
    ASSERT_TRUE(tracker.HasPendingUpdates());
    tracker.PropagateAll();
    ASSERT_FALSE(tracker.HasPendingUpdates());
    tracker.DrainFrontierChanges([&](Target target, std::span<const std::pair<T, int64_t>> diffs) {
      reported[target].Extend(diffs);
    });

    const std::map<Target, Antichain<T>> expected = BruteFrontiers(builder, at_sources, at_targets);
    for (const Target& target : targets) {
      ASSERT_EQ(tracker.Frontier(target), expected.at(target)) << target << " at step " << step;
      std::vector<T> from_changes;
      for (const auto& [time, count] : reported[target].Updates()) {
        ASSERT_EQ(count, 1) << target << " " << time;
        from_changes.push_back(time);
      }
      const auto elements = expected.at(target).Elements();
      ASSERT_EQ(from_changes, std::vector<T>(elements.begin(), elements.end())) << target;
    }
  }
}

uint64_t RandomOuter(std::mt19937_64& rng) { return rng() % 6; }

IterationTime RandomIterationTime(std::mt19937_64& rng) {
  const uint64_t outer = rng() % 4;
  return IterationTime(outer, static_cast<uint32_t>(rng() % 4));
}

TEST(ProgressTest, LinearPipelineFrontiersMatchBruteForce) {
  Builder<Timestamp> builder;
  const uint32_t input = builder.AddNode(0, 1);
  const uint32_t map = builder.AddNode(1, 1);
  const uint32_t delay = builder.AddNode(1, 1, {{Antichain(OffsetSummary<uint64_t>{2})}});
  const uint32_t sink = builder.AddNode(1, 0);
  builder.AddEdge(Source{input, 0}, Target{map, 0});
  builder.AddEdge(Source{map, 0}, Target{delay, 0});
  builder.AddEdge(Source{delay, 0}, Target{sink, 0});
  CheckAgainstBruteForce(builder, RandomOuter, 11, 300);
}

TEST(ProgressTest, LinearPipelineReportsFrontierMovesInOrder) {
  Builder<Timestamp> builder;
  const uint32_t input = builder.AddNode(0, 1);
  const uint32_t map = builder.AddNode(1, 1);
  const uint32_t sink = builder.AddNode(1, 0);
  builder.AddEdge(Source{input, 0}, Target{map, 0});
  builder.AddEdge(Source{map, 0}, Target{sink, 0});
  absl::StatusOr<Tracker<Timestamp>> tracker = builder.Build();
  ASSERT_TRUE(tracker.ok()) << tracker.status();

  EXPECT_TRUE(tracker->Frontier(Target{sink, 0}).IsEmpty());  // Nothing held yet.
  std::map<Target, std::vector<std::pair<Timestamp, int64_t>>> drained;
  auto drain = [&] {
    drained.clear();
    tracker->DrainFrontierChanges([&](Target target, auto changes) {
      drained[target].assign(changes.begin(), changes.end());
    });
  };
  using Changes = std::vector<std::pair<Timestamp, int64_t>>;
  const Target map_input{map, 0};
  const Target sink_input{sink, 0};

  tracker->UpdateSource(Source{input, 0}, 0, 1);
  tracker->PropagateAll();
  EXPECT_EQ(tracker->Frontier(Target{map, 0}), Antichain<Timestamp>(0));
  EXPECT_EQ(tracker->Frontier(Target{sink, 0}), Antichain<Timestamp>(0));
  drain();
  EXPECT_EQ(drained[sink_input], (Changes{{0, 1}}));

  // The input commits 0 and moves its capability to 2, with a message at 0 in flight: the
  // frontiers do not move.
  tracker->UpdateTarget(Target{map, 0}, 0, 1);
  tracker->UpdateSource(Source{input, 0}, 2, 1);
  tracker->UpdateSource(Source{input, 0}, 0, -1);
  tracker->PropagateAll();
  EXPECT_EQ(tracker->Frontier(Target{map, 0}), Antichain<Timestamp>(0));
  EXPECT_TRUE(tracker->FrontierChanges(Target{map, 0}).IsEmpty());
  EXPECT_TRUE(tracker->FrontierChanges(Target{sink, 0}).IsEmpty());

  // The map consumes the message; nothing at 0 remains anywhere.
  tracker->UpdateTarget(Target{map, 0}, 0, -1);
  tracker->PropagateAll();
  EXPECT_EQ(tracker->Frontier(Target{sink, 0}), Antichain<Timestamp>(2));
  drain();
  EXPECT_EQ(drained[sink_input], (Changes{{0, -1}, {2, 1}}));
  EXPECT_EQ(drained[map_input], (Changes{{0, -1}, {2, 1}}));

  // The input closes: every frontier empties.
  tracker->UpdateSource(Source{input, 0}, 2, -1);
  tracker->PropagateAll();
  EXPECT_TRUE(tracker->Frontier(Target{map, 0}).IsEmpty());
  EXPECT_TRUE(tracker->Frontier(Target{sink, 0}).IsEmpty());
}

TEST(ProgressTest, DiamondFrontiersMatchBruteForce) {
  // input -> {a, b (+2)} -> join (two inputs) -> sink.
  Builder<Timestamp> builder;
  const uint32_t input = builder.AddNode(0, 1);
  const uint32_t a = builder.AddNode(1, 1);
  const uint32_t b = builder.AddNode(1, 1, {{Antichain(OffsetSummary<uint64_t>{2})}});
  const uint32_t join = builder.AddNode(2, 1);
  const uint32_t sink = builder.AddNode(1, 0);
  builder.AddEdge(Source{input, 0}, Target{a, 0});
  builder.AddEdge(Source{input, 0}, Target{b, 0});
  builder.AddEdge(Source{a, 0}, Target{join, 0});
  builder.AddEdge(Source{b, 0}, Target{join, 1});
  builder.AddEdge(Source{join, 0}, Target{sink, 0});

  absl::StatusOr<Tracker<Timestamp>> tracker = builder.Build();
  ASSERT_TRUE(tracker.ok()) << tracker.status();
  // Both paths reach the sink; the identity path dominates the +2 one.
  EXPECT_EQ(tracker->PathSummaries(Source{input, 0}, Target{sink, 0}),
            Antichain(OffsetSummary<uint64_t>{0}));
  EXPECT_EQ(tracker->PathSummaries(Source{input, 0}, Target{join, 1}),
            Antichain(OffsetSummary<uint64_t>{2}));
  EXPECT_TRUE(tracker->PathSummaries(Source{a, 0}, Target{b, 0}).IsEmpty());

  CheckAgainstBruteForce(builder, RandomOuter, 12, 300);
}

// An iteration in a flat graph over (outer, round) times:
//   input -> concat(0); concat -> body -> branch; branch(0) -> feedback (+1 round) ->
//   concat(1); branch(1) -> sink.
Builder<IterationTime> LoopGraph(SummaryFor<IterationTime> feedback_summary) {
  Builder<IterationTime> builder;
  const uint32_t input = builder.AddNode(0, 1);
  const uint32_t concat = builder.AddNode(2, 1);
  const uint32_t body = builder.AddNode(1, 1);
  const uint32_t branch = builder.AddNode(1, 2);
  const uint32_t feedback = builder.AddNode(1, 1, {{Antichain(feedback_summary)}});
  const uint32_t sink = builder.AddNode(1, 0);
  builder.AddEdge(Source{input, 0}, Target{concat, 0});
  builder.AddEdge(Source{concat, 0}, Target{body, 0});
  builder.AddEdge(Source{body, 0}, Target{branch, 0});
  builder.AddEdge(Source{branch, 0}, Target{feedback, 0});
  builder.AddEdge(Source{feedback, 0}, Target{concat, 1});
  builder.AddEdge(Source{branch, 1}, Target{sink, 0});
  return builder;
}

TEST(ProgressTest, IterationLoopFrontiersMatchBruteForce) {
  const Builder<IterationTime> builder = LoopGraph(FeedbackSummary<Timestamp>());
  CheckAgainstBruteForce(builder, RandomIterationTime, 13, 400);
  CheckAgainstBruteForce(builder, RandomIterationTime, 14, 400);
}

TEST(ProgressTest, IterationLoopAdvancesRoundAroundFeedback) {
  const Builder<IterationTime> builder = LoopGraph(FeedbackSummary<Timestamp>());
  absl::StatusOr<Tracker<IterationTime>> tracker = builder.Build();
  ASSERT_TRUE(tracker.ok()) << tracker.status();
  const Target concat_loop{1, 1};
  const Target body{2, 0};
  const Source body_output{2, 0};
  // From the body back to itself: once around the loop, one round later.
  EXPECT_EQ(tracker->PathSummaries(body_output, concat_loop),
            Antichain(FeedbackSummary<Timestamp>()));
  EXPECT_EQ(tracker->PathSummaries(body, body), Antichain(SummaryFor<IterationTime>{}));

  // The body holds a capability at (4, 2): what it sends comes back round the loop one
  // round later, so the loop input and the body's own input may still see (4, 3), while
  // the sink may see (4, 2).
  tracker->UpdateSource(body_output, IterationTime(4, 2), 1);
  tracker->PropagateAll();
  EXPECT_EQ(tracker->Frontier(concat_loop), Antichain(IterationTime(4, 3)));
  EXPECT_EQ(tracker->Frontier(body), Antichain(IterationTime(4, 3)));
  EXPECT_EQ(tracker->Frontier(Target{5, 0}), Antichain(IterationTime(4, 2)));
}

TEST(ProgressTest, AdvancingIntegerCycleIsAccepted) {
  Builder<Timestamp> builder;
  const uint32_t a = builder.AddNode(1, 1);
  const uint32_t b = builder.AddNode(1, 1, {{Antichain(OffsetSummary<uint64_t>{1})}});
  builder.AddEdge(Source{a, 0}, Target{b, 0});
  builder.AddEdge(Source{b, 0}, Target{a, 0});
  CheckAgainstBruteForce(builder, RandomOuter, 15, 200);
}

TEST(ProgressTest, OverflowingSummaryProducesNoTime) {
  Builder<Timestamp> builder;
  const uint32_t a = builder.AddNode(0, 1);
  const uint32_t b = builder.AddNode(1, 1, {{Antichain(OffsetSummary<uint64_t>{5})}});
  const uint32_t c = builder.AddNode(1, 0);
  builder.AddEdge(Source{a, 0}, Target{b, 0});
  builder.AddEdge(Source{b, 0}, Target{c, 0});
  absl::StatusOr<Tracker<Timestamp>> tracker = builder.Build();
  ASSERT_TRUE(tracker.ok()) << tracker.status();
  tracker->UpdateSource(Source{a, 0}, kMaxTimestamp - 2, 1);
  tracker->PropagateAll();
  EXPECT_EQ(tracker->Frontier(Target{b, 0}), Antichain<Timestamp>(kMaxTimestamp - 2));
  EXPECT_TRUE(tracker->Frontier(Target{c, 0}).IsEmpty());
}

TEST(ProgressTest, RejectsCycleThatDoesNotAdvanceTime) {
  const Builder<IterationTime> builder = LoopGraph(SummaryFor<IterationTime>{});
  absl::StatusOr<Tracker<IterationTime>> tracker = builder.Build();
  ASSERT_FALSE(tracker.ok());
  EXPECT_EQ(tracker.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(tracker.status().message().find("cycle does not advance time"), std::string::npos)
      << tracker.status();
  EXPECT_NE(tracker.status().message().find("node 4 input 0"), std::string::npos)
      << tracker.status();

  // A self-loop through an identity operator is rejected too.
  Builder<Timestamp> self_loop;
  const uint32_t node = self_loop.AddNode(1, 1);
  self_loop.AddEdge(Source{node, 0}, Target{node, 0});
  EXPECT_EQ(self_loop.Build().status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ProgressTest, RejectsMalformedGraphs) {
  Builder<Timestamp> bad_shape;
  bad_shape.AddNode(2, 1, {{Antichain(OffsetSummary<uint64_t>{0})}});
  EXPECT_EQ(bad_shape.Build().status().code(), absl::StatusCode::kInvalidArgument);

  Builder<Timestamp> bad_row;
  bad_row.AddNode(1, 2, {{Antichain(OffsetSummary<uint64_t>{0})}});
  EXPECT_EQ(bad_row.Build().status().code(), absl::StatusCode::kInvalidArgument);

  Builder<Timestamp> bad_edge;
  const uint32_t a = bad_edge.AddNode(0, 1);
  bad_edge.AddEdge(Source{a, 0}, Target{a, 0});
  absl::Status status = bad_edge.Build().status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("missing input port"), std::string::npos) << status;

  Builder<Timestamp> bad_source;
  const uint32_t b = bad_source.AddNode(1, 0);
  bad_source.AddEdge(Source{b, 3}, Target{b, 0});
  EXPECT_EQ(bad_source.Build().status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace deltaflow::time
