// Table graphs: randomized oracle tests (group-by/reduce, joins, update_rows) comparing the
// output at every completed time with a recomputation from the input at that time, on 1, 2
// and 4 workers; and the error paths (failing expressions, duplicate ids).
#include "deltaflow/table/graph.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "deltaflow/expr/expression.h"
#include "deltaflow/value/row.h"

namespace deltaflow::table {
namespace {

using expr::Expression;
using expr::Op;
using value::Key;
using value::Row;
using value::RowBuilder;

Row Ints(std::initializer_list<int64_t> values) {
  RowBuilder b;
  for (int64_t v : values) b.Int(v);
  return b.Finish();
}

Key IdOf(int64_t n) {
  RowBuilder b;
  b.Int(n);
  return value::IdFromValues(b.Finish().values());
}

// Collects an output's changes per time and checks each time's snapshot against `expected`.
class Recorder final : public io::Sink {
 public:
  absl::Status Write(Time time, std::vector<OutputChange>& changes) override {
    EXPECT_TRUE(times_.empty() || times_.back() < time) << "times out of order";
    times_.push_back(time);
    for (auto& c : changes) {
      auto& slot = state_[c.id];
      slot[c.row.DebugString()] += c.diff;
      if (slot[c.row.DebugString()] == 0) slot.erase(c.row.DebugString());
      if (slot.empty()) state_.erase(c.id);
    }
    for (const auto& [id, rows] : state_) {
      EXPECT_EQ(rows.size(), 1u) << "two rows under one id at time " << time;
      for (const auto& [row, count] : rows) EXPECT_EQ(count, 1) << row;
    }
    snapshots_[time] = Values();
    return absl::OkStatus();
  }
  // The multiset of rows (as text) now.
  std::multiset<std::string> Values() const {
    std::multiset<std::string> out;
    for (const auto& [id, rows] : state_) {
      for (const auto& [row, count] : rows) {
        for (int64_t i = 0; i < count; ++i) out.insert(row);
      }
    }
    return out;
  }
  std::map<Time, std::multiset<std::string>> snapshots_;
  std::vector<Time> times_;

 private:
  std::map<Key, std::map<std::string, int64_t>> state_;
};

// Runs `g` on `workers` workers with `recorder` as its only output.
absl::StatusOr<RunResult> RunOnWorkers(const TableGraph& g, Recorder& recorder, uint32_t workers) {
  RunOptions options;
  options.workers = workers;
  return RunTableGraph(g, {&recorder}, options);
}

// A random update stream over rows (id, [a, b]): inserts and deletes of live rows.
std::vector<TableUpdate> RandomStream(std::mt19937_64& rng, int rows, int key_range, int times, int64_t id_base) {
  std::vector<TableUpdate> out;
  std::map<int64_t, Row> live;
  for (int i = 0; i < rows; ++i) {
    Time t = 2 * (1 + rng() % static_cast<uint64_t>(times));
    (void)t;
  }
  for (int step = 0; step < times; ++step) {
    Time t = 2 * static_cast<Time>(step + 1);
    int changes = 1 + static_cast<int>(rng() % static_cast<uint64_t>(rows / times + 2));
    for (int c = 0; c < changes; ++c) {
      if (!live.empty() && rng() % 3 == 0) {
        auto it = live.begin();
        std::advance(it, static_cast<long>(rng() % live.size()));
        out.push_back({IdOf(it->first), it->second, t, -1});
        live.erase(it);
      } else {
        int64_t n = id_base + static_cast<int64_t>(rng() % 100000);
        if (live.count(n)) continue;
        Row r = Ints({static_cast<int64_t>(rng() % static_cast<uint64_t>(key_range)), static_cast<int64_t>(rng() % 50) - 10});
        out.push_back({IdOf(n), r, t, +1});
        live[n] = r;
      }
    }
  }
  return out;
}

// The live rows at time `t`, by id.
std::map<Key, Row> LiveById(const std::vector<TableUpdate>& stream, Time t) {
  std::map<Key, std::pair<Row, int64_t>> live;
  for (const auto& u : stream) {
    if (u.time > t) continue;
    auto& slot = live[u.id];
    slot.first = u.row;
    slot.second += u.diff;
  }
  std::map<Key, Row> out;
  for (const auto& [id, slot] : live) {
    if (slot.second > 0) out.emplace(id, slot.first);
  }
  return out;
}

// The live rows at time `t`.
std::vector<Row> LiveAt(const std::vector<TableUpdate>& stream, Time t) {
  std::vector<Row> out;
  for (auto& [id, row] : LiveById(stream, t)) out.push_back(row);
  return out;
}

class TableOracle : public ::testing::TestWithParam<uint32_t> {};

TEST_P(TableOracle, GroupByReduceMatchesRecomputationAtEveryTime) {
  std::mt19937_64 rng(11 + GetParam());
  auto stream = RandomStream(rng, 400, 6, 12, 0);
  TableGraph g;
  int in = g.StaticInput(stream, 2);
  std::vector<Reducer> reducers(5);
  reducers[0].kind = ReducerKind::kCount;
  reducers[1].kind = ReducerKind::kSum;
  reducers[1].args.push_back(Expression::Column(1));
  reducers[2].kind = ReducerKind::kMin;
  reducers[2].args.push_back(Expression::Column(1));
  reducers[3].kind = ReducerKind::kMax;
  reducers[3].args.push_back(Expression::Column(1));
  reducers[4].kind = ReducerKind::kCountDistinct;
  reducers[4].args.push_back(Expression::Column(1));
  int gb = g.GroupByReduce(in, {Expression::Column(0)}, reducers);
  g.Output(gb);
  Recorder recorder;
  auto result = RunOnWorkers(g, recorder, GetParam());
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_GE(recorder.snapshots_.size(), 8u);
  for (const auto& [t, got] : recorder.snapshots_) {
    std::map<int64_t, std::vector<int64_t>> groups;
    for (const Row& r : LiveAt(stream, t)) groups[r[0].AsInt()].push_back(r[1].AsInt());
    std::multiset<std::string> want;
    for (auto& [key, values] : groups) {
      int64_t sum = 0;
      for (int64_t v : values) sum += v;
      std::set<int64_t> distinct(values.begin(), values.end());
      want.insert(Ints({key, static_cast<int64_t>(values.size()), sum, *distinct.begin(), *distinct.rbegin(),
                        static_cast<int64_t>(distinct.size())})
                      .DebugString());
    }
    EXPECT_EQ(got, want) << "at time " << t;
  }
}

TEST_P(TableOracle, JoinsMatchRecomputationAtEveryTime) {
  for (JoinKind kind : {JoinKind::kInner, JoinKind::kLeft, JoinKind::kOuter}) {
    std::mt19937_64 rng(29 + GetParam() + static_cast<int>(kind));
    auto left = RandomStream(rng, 120, 8, 8, 0);
    auto right = RandomStream(rng, 120, 8, 8, 1000000);
    TableGraph g;
    int l = g.StaticInput(left, 2);
    int r = g.StaticInput(right, 2);
    int j = g.Join(l, r, {Expression::Column(0)}, {Expression::Column(0)}, kind, JoinId::kPair);
    // Drop the id columns (cells 4 and 5) for comparison.
    int s = g.Select(j, {Expression::Column(0), Expression::Column(1), Expression::Column(2), Expression::Column(3)});
    g.Output(s);
    Recorder recorder;
    auto result = RunOnWorkers(g, recorder, GetParam());
    ASSERT_TRUE(result.ok()) << result.status();
    ASSERT_GE(recorder.snapshots_.size(), 4u);
    for (const auto& [t, got] : recorder.snapshots_) {
      auto ls = LiveAt(left, t);
      auto rs = LiveAt(right, t);
      std::multiset<std::string> want;
      std::set<int64_t> right_keys, left_keys;
      for (const Row& b : rs) right_keys.insert(b[0].AsInt());
      for (const Row& a : ls) left_keys.insert(a[0].AsInt());
      for (const Row& a : ls) {
        for (const Row& b : rs) {
          if (a[0].AsInt() == b[0].AsInt()) want.insert(Ints({a[0].AsInt(), a[1].AsInt(), b[0].AsInt(), b[1].AsInt()}).DebugString());
        }
        if (kind != JoinKind::kInner && !right_keys.count(a[0].AsInt())) {
          RowBuilder rb;
          rb.Int(a[0].AsInt()).Int(a[1].AsInt()).Null().Null();
          want.insert(rb.Finish().DebugString());
        }
      }
      if (kind == JoinKind::kOuter) {
        for (const Row& b : rs) {
          if (!left_keys.count(b[0].AsInt())) {
            RowBuilder rb;
            rb.Null().Null().Int(b[0].AsInt()).Int(b[1].AsInt());
            want.insert(rb.Finish().DebugString());
          }
        }
      }
      EXPECT_EQ(got, want) << "join kind " << static_cast<int>(kind) << " at time " << t;
    }
  }
}

TEST_P(TableOracle, UpdateRowsMatchesRecomputationAtEveryTime) {
  std::mt19937_64 rng(43 + GetParam());
  auto base = RandomStream(rng, 200, 5, 8, 0);
  auto updates = RandomStream(rng, 200, 5, 8, 0);  // same id space: overrides
  TableGraph g;
  int b = g.StaticInput(base, 2);
  int u = g.StaticInput(updates, 2);
  g.Output(g.UpdateRows(b, u));
  Recorder recorder;
  auto result = RunOnWorkers(g, recorder, GetParam());
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_GE(recorder.snapshots_.size(), 4u);
  for (const auto& [t, got] : recorder.snapshots_) {
    std::map<Key, Row> want_by_id;
    auto live = [&](const std::vector<TableUpdate>& s) {
      std::map<Key, std::pair<Row, int64_t>> m;
      for (const auto& x : s) {
        if (x.time > t) continue;
        m[x.id].first = x.row;
        m[x.id].second += x.diff;
      }
      return m;
    };
    for (auto& [id, slot] : live(base)) if (slot.second > 0) want_by_id[id] = slot.first;
    for (auto& [id, slot] : live(updates)) if (slot.second > 0) want_by_id[id] = slot.first;
    std::multiset<std::string> want;
    for (auto& [id, row] : want_by_id) want.insert(row.DebugString());
    EXPECT_EQ(got, want) << "at time " << t;
  }
}

TEST_P(TableOracle, SortMatchesRecomputationAtEveryTime) {
  std::mt19937_64 rng(23 + GetParam());
  auto stream = RandomStream(rng, 300, 4, 10, 0);
  TableGraph g;
  int in = g.StaticInput(stream, 2);
  g.Output(g.Sort(in, Expression::Column(1), Expression::Column(0)));
  Recorder recorder;
  auto result = RunOnWorkers(g, recorder, GetParam());
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_GE(recorder.snapshots_.size(), 6u);
  for (const auto& [t, got] : recorder.snapshots_) {
    // Live rows per instance, ordered by (value, id): each row's neighbours.
    std::map<int64_t, std::vector<std::pair<int64_t, Key>>> by_instance;
    for (const auto& [id, row] : LiveById(stream, t)) by_instance[row.view()[0].AsInt()].push_back({row.view()[1].AsInt(), id});
    std::multiset<std::string> want;
    for (auto& [instance, rows] : by_instance) {
      std::sort(rows.begin(), rows.end());
      for (size_t i = 0; i < rows.size(); ++i) {
        RowBuilder b;
        if (i > 0) b.Pointer(rows[i - 1].second); else b.Null();
        if (i + 1 < rows.size()) b.Pointer(rows[i + 1].second); else b.Null();
        want.insert(b.Finish().DebugString());
      }
    }
    EXPECT_EQ(got, want) << "at time " << t;
  }
}

// Iterate: the body raises b by 1 while it is below 10, to a fixed point or `limit` times.
void CheckIterate(uint32_t workers, std::optional<uint32_t> limit) {
  std::mt19937_64 rng(31 + workers);
  auto stream = RandomStream(rng, 200, 5, 8, 0);
  TableGraph body;
  int scope = body.ScopeInput(0, 2);
  RowBuilder b;
  Expression ten = Expression::Constant(b.Int(10).Finish());
  Expression one = Expression::Constant(b.Int(1).Finish());
  Expression next = Expression::Call(Op::kIfElse, {Expression::Call(Op::kLt, {Expression::Column(1), ten}),
                                                   Expression::Call(Op::kAdd, {Expression::Column(1), one}),
                                                   Expression::Column(1)});
  int step = body.Select(scope, {Expression::Column(0), next});
  TableGraph g;
  int in = g.StaticInput(stream, 2);
  int it = g.Iterate({in}, std::make_shared<const TableGraph>(body), {step}, 1, limit);
  g.Output(g.IterateOutput(it, 0, 2));
  Recorder recorder;
  auto result = RunOnWorkers(g, recorder, workers);
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_GE(recorder.snapshots_.size(), 4u);
  for (const auto& [t, got] : recorder.snapshots_) {
    std::multiset<std::string> want;
    for (const Row& r : LiveAt(stream, t)) {
      int64_t v = r[1].AsInt();
      int64_t rounds = limit ? static_cast<int64_t>(*limit) : 1000;
      int64_t final = v < 10 ? std::min<int64_t>(10, v + rounds) : v;
      want.insert(Ints({r[0].AsInt(), final}).DebugString());
    }
    EXPECT_EQ(got, want) << "at time " << t;
  }
}

TEST_P(TableOracle, IterateReachesTheFixedPointAtEveryTime) { CheckIterate(GetParam(), std::nullopt); }

TEST_P(TableOracle, IterateStopsAtTheLimitAtEveryTime) { CheckIterate(GetParam(), 3); }

INSTANTIATE_TEST_SUITE_P(Workers, TableOracle, ::testing::Values(1u, 2u, 4u));

// A row inserted and retracted within one time never existed: deduplicate (keeping the
// first value it sees) must not take it, whichever order the two changes arrive in.
TEST(TableGraphTest, DeduplicateIgnoresARowRetractedAtTheSameTime) {
  Key a = IdOf(1), b = IdOf(2);
  Key transient = std::min(a, b), kept = std::max(a, b);  // the transient row is seen first
  TableGraph g;
  int in = g.StaticInput({{transient, Ints({5}), 2, 1}, {kept, Ints({7}), 2, 1}, {transient, Ints({5}), 2, -1}}, 1);
  auto never = std::make_shared<BatchFunction>(
      [](const std::vector<Row>& args, std::vector<Row>& results, std::vector<RowFailure>&) {
        for (size_t i = 0; i < args.size(); ++i) {
          RowBuilder r;
          results.push_back(r.Bool(false).Finish());
        }
        return absl::OkStatus();
      });
  g.Output(g.Deduplicate(in, Expression::Column(0), std::nullopt, never));
  Recorder recorder;
  auto result = RunTableGraph(g, {&recorder}, RunOptions{});
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(recorder.Values(), std::multiset<std::string>{Ints({7}).DebugString()});
}

TEST(TableGraphTest, FailingExpressionStopsTheRunNamingIt) {
  TableGraph g;
  int in = g.StaticInput({{IdOf(1), Ints({1, 0}), 0, 1}}, 2);
  Expression div = Expression::Call(Op::kFloorDiv, {Expression::Column(0), Expression::Column(1)}, "a // b");
  g.Output(g.Select(in, {div}, "select at pipeline.py:3"));
  Recorder recorder;
  auto result = RunTableGraph(g, {&recorder}, RunOptions{});
  ASSERT_FALSE(result.ok());
  EXPECT_NE(result.status().message().find("division by zero"), std::string_view::npos) << result.status();
  EXPECT_NE(result.status().message().find("a // b"), std::string_view::npos) << result.status();
  EXPECT_NE(result.status().message().find("pipeline.py:3"), std::string_view::npos) << result.status();
}

TEST(TableGraphTest, FailingExpressionBecomesErrorAndLogEntry) {
  TableGraph g;
  int in = g.StaticInput({{IdOf(1), Ints({1, 0}), 0, 1}, {IdOf(2), Ints({4, 2}), 0, 1}}, 2);
  Expression div = Expression::Call(Op::kFloorDiv, {Expression::Column(0), Expression::Column(1)}, "a // b");
  int quotients = g.Select(in, {div});
  g.Output(quotients, "debug view", /*keep_error_rows=*/true);
  g.Output(quotients, "output");
  Recorder view;
  Recorder output;
  RunOptions options;
  options.terminate_on_error = false;
  auto result = RunTableGraph(g, {&view, &output}, options);
  ASSERT_TRUE(result.ok()) << result.status();
  // The failure, then the output that skipped the row holding the Error.
  ASSERT_EQ(result->errors.size(), 2u);
  EXPECT_EQ(result->errors[0].id, IdOf(1));
  EXPECT_EQ(result->errors[1].operation, "output");
  EXPECT_EQ(result->errors[1].message, "Error value encountered in output, skipping the row");
  std::multiset<std::string> values = view.Values();
  EXPECT_EQ(values.size(), 2u);
  EXPECT_TRUE(values.count(Ints({2}).DebugString()));
  EXPECT_EQ(output.Values(), (std::multiset<std::string>{Ints({2}).DebugString()}));
}

TEST(TableGraphTest, DuplicateIdIsAnError) {
  TableGraph g;
  int a = g.StaticInput({{IdOf(1), Ints({1}), 0, 1}}, 1);
  int b = g.StaticInput({{IdOf(1), Ints({2}), 0, 1}}, 1);
  g.Output(g.Concat({a, b}, "concat at pipeline.py:9"));
  Recorder recorder;
  auto result = RunTableGraph(g, {&recorder}, RunOptions{});
  ASSERT_FALSE(result.ok());
  EXPECT_NE(result.status().message().find("duplicate id"), std::string_view::npos) << result.status();
}

TEST(TableGraphTest, GroupIdsArePointerFromGroupValues) {
  TableGraph g;
  int in = g.StaticInput({{IdOf(1), Ints({7, 1}), 0, 1}, {IdOf(2), Ints({7, 2}), 0, 1}}, 2);
  std::vector<Reducer> reducers(1);
  g.Output(g.GroupByReduce(in, {Expression::Column(0)}, reducers));
  struct Ids final : io::Sink {
    absl::Status Write(Time, std::vector<OutputChange>& changes) override {
      for (auto& c : changes) ids.push_back(c.id);
      return absl::OkStatus();
    }
    std::vector<Key> ids;
  } ids;
  ASSERT_TRUE(RunTableGraph(g, {&ids}, RunOptions{}).ok());
  ASSERT_EQ(ids.ids.size(), 1u);
  EXPECT_EQ(ids.ids[0], IdOf(7));
  EXPECT_EQ(IdOf(7).ToString().substr(0, 3), ids.ids[0].ToString().substr(0, 3));
}

}  // namespace
}  // namespace deltaflow::table
