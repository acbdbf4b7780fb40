// How a run drives live sources and sinks (io/source.h, io/sink.h): offsets are committed only
// once every output is past the times they reached and every sink has flushed them; a source's
// backlog bounds how much of its input is in processing; a failing source stops the run with
// its error and is closed on every way out.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "deltaflow/expr/expression.h"
#include "deltaflow/table/graph.h"
#include "deltaflow/value/row.h"

namespace deltaflow::table {
namespace {

using value::Key;
using value::RowBuilder;

// What the test source and sink saw, shared between them.
struct Ledger {
  size_t polled_rows = 0;
  size_t written_rows = 0;
  size_t flushed_rows = 0;
  size_t most_in_processing = 0;
  std::vector<std::pair<uint64_t, size_t>> commits;  // (committed position, rows flushed then)
  bool closed = false;
};

// Emits `rows_per_poll` rows per poll, `polls` times; its offset is the number of polls.
class CountingSource final : public io::Source {
 public:
  CountingSource(std::shared_ptr<Ledger> ledger, size_t polls, size_t rows_per_poll, bool fail_at_end = false)
      : ledger_(std::move(ledger)), polls_(polls), rows_per_poll_(rows_per_poll), fail_at_end_(fail_at_end) {}

  absl::StatusOr<io::PollResult> Poll(std::vector<io::Change>& out, size_t max_rows) override {
    (void)max_rows;  // goes over it by a poll's rows: what the backlog test allows
    if (done_ == polls_) {
      if (fail_at_end_) return absl::UnavailableError("the broker went away");
      return io::PollResult::kFinished;
    }
    for (size_t i = 0; i < rows_per_poll_; ++i) {
      RowBuilder b;
      b.Int(static_cast<int64_t>(ledger_->polled_rows));
      out.push_back({value::IdFromValues(b.Finish().values()), b.Int(static_cast<int64_t>(ledger_->polled_rows)).Finish(), 1});
      ++ledger_->polled_rows;
    }
    ++done_;
    ledger_->most_in_processing = std::max(ledger_->most_in_processing, ledger_->polled_rows - ledger_->written_rows);
    return io::PollResult::kMore;
  }
  io::Offsets CurrentOffsets() const override { return {{"p", io::Offset{done_, 0, 0}}}; }
  absl::Status Commit(const io::Offsets& offsets) override {
    ledger_->commits.emplace_back(offsets.at("p").position, ledger_->flushed_rows);
    return absl::OkStatus();
  }
  void Close() override { ledger_->closed = true; }

 private:
  std::shared_ptr<Ledger> ledger_;
  size_t polls_;
  size_t rows_per_poll_;
  bool fail_at_end_;
  size_t done_ = 0;
};

class CountingSink final : public io::Sink {
 public:
  explicit CountingSink(std::shared_ptr<Ledger> ledger) : ledger_(std::move(ledger)) {}
  absl::Status Write(Time, std::vector<OutputChange>& changes) override {
    for (const auto& c : changes) ledger_->written_rows += static_cast<size_t>(c.diff);
    return absl::OkStatus();
  }
  absl::Status Flush() override {
    ledger_->flushed_rows = ledger_->written_rows;
    return absl::OkStatus();
  }

 private:
  std::shared_ptr<Ledger> ledger_;
};

TEST(SourceRunTest, OffsetsAreCommittedOnlyAfterEverySinkFlushedTheirRows) {
  for (uint32_t workers : {1u, 2u, 4u}) {
    auto ledger = std::make_shared<Ledger>();
    TableGraph g;
    int in = g.SourceInput(std::make_shared<CountingSource>(ledger, 200, 3), 1, "counting source");
    g.Output(g.Select(in, {expr::Expression::Column(0)}));
    CountingSink sink(ledger);
    RunOptions options;
    options.workers = workers;
    options.commit_interval = absl::ZeroDuration();  // commit as soon as anything is durable
    auto result = RunTableGraph(g, {&sink}, options);
    ASSERT_TRUE(result.ok()) << result.status();
    ASSERT_FALSE(ledger->commits.empty());
    uint64_t last = 0;
    for (auto [position, flushed] : ledger->commits) {
      EXPECT_LE(position * 3, flushed) << "offset committed before its rows were flushed";
      EXPECT_GT(position, last) << "commits go forward";
      last = position;
    }
    EXPECT_EQ(last, 200u) << "the end of the run commits everything";
    EXPECT_EQ(ledger->written_rows, 600u);
    EXPECT_TRUE(ledger->closed);
  }
}

TEST(SourceRunTest, BacklogBoundsTheRowsInProcessing) {
  auto ledger = std::make_shared<Ledger>();
  TableGraph g;
  int in = g.SourceInput(std::make_shared<CountingSource>(ledger, 300, 2), 1, "counting source", /*max_backlog=*/5);
  g.Output(g.Select(in, {expr::Expression::Column(0)}));
  CountingSink sink(ledger);
  RunOptions options;
  options.workers = 2;
  ASSERT_TRUE(RunTableGraph(g, {&sink}, options).ok());
  EXPECT_EQ(ledger->written_rows, 600u);
  // A poll is allowed while fewer than 5 rows are in processing and adds 2.
  EXPECT_LE(ledger->most_in_processing, 6u);
}

TEST(SourceRunTest, AFailingSourceStopsTheRunWithItsErrorAndIsClosed) {
  auto ledger = std::make_shared<Ledger>();
  TableGraph g;
  int in = g.SourceInput(std::make_shared<CountingSource>(ledger, 3, 1, /*fail_at_end=*/true), 1, "kafka source");
  g.Output(in);
  CountingSink sink(ledger);
  auto result = RunTableGraph(g, {&sink}, RunOptions{});
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(result.status().message(), "kafka source: the broker went away");
  EXPECT_TRUE(ledger->closed);
}

}  // namespace
}  // namespace deltaflow::table
