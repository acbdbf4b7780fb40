#include "deltaflow/persist/checkpoint.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <map>

#include "fmt/format.h"

#include "deltaflow/value/key.h"
#include "deltaflow/value/row.h"

namespace deltaflow::persist {
namespace {

io::Change Word(const std::string& word, int64_t diff = 1) {
  value::RowBuilder b;
  b.String(word);
  value::Row row = b.Finish();
  return {value::IdFromValues(row.values()), row, diff};
}

std::map<std::string, int64_t> Net(const std::vector<LoggedBatch>& batches) {
  std::map<std::string, int64_t> net;
  for (const LoggedBatch& b : batches) {
    for (const io::Change& c : b.changes) net[std::string(c.row.view()[0].AsString())] += c.diff;
  }
  for (auto it = net.begin(); it != net.end();) it = it->second == 0 ? net.erase(it) : std::next(it);
  return net;
}

TEST(CheckpointTest, ManifestRoundTrips) {
  Manifest m;
  m.generation = 3;
  m.frontier = 10;
  m.last_time = 12;
  m.clean_stop = true;
  m.sources.push_back({"words", 2, {{"sources/a/1-0.log", 99}}, {{"f.csv", io::Offset{5, 2, 7, "123"}}}, 99, 0});
  m.sinks.push_back({"out", "42"});
  absl::StatusOr<Manifest> back = DecodeManifest(EncodeManifest(m), "manifest");
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->generation, 3u);
  EXPECT_EQ(back->frontier, 10u);
  EXPECT_TRUE(back->clean_stop);
  ASSERT_EQ(back->sources.size(), 1u);
  EXPECT_EQ(back->sources[0].segments[0].committed, 99u);
  EXPECT_EQ(back->sources[0].offsets.at("f.csv"), (io::Offset{5, 2, 7, "123"}));
  EXPECT_EQ(back->sinks[0].position, "42");
}

TEST(CheckpointTest, DamagedManifestAndLogsAreErrorsNamingTheObject) {
  std::string bytes = EncodeManifest(Manifest{});
  bytes.back() ^= 1;
  EXPECT_EQ(DecodeManifest(bytes, "/s/manifest").status().code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(DecodeManifest(bytes, "/s/manifest").status().message().find("/s/manifest: checksum mismatch"),
            std::string::npos);

  std::string log;
  ASSERT_TRUE(AppendLogRecord(4, {Word("a"), Word("b")}, log).ok());
  size_t first = log.size();
  ASSERT_TRUE(AppendLogRecord(6, {Word("c")}, log).ok());
  std::vector<LoggedBatch> batches;
  ASSERT_TRUE(ReadLogRecords(log, log.size(), "seg", batches).ok());
  ASSERT_EQ(batches.size(), 2u);
  EXPECT_EQ(batches[1].time, 6u);
  log[first + 20] ^= 1;
  batches.clear();
  absl::Status s = ReadLogRecords(log, log.size(), "seg", batches);
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(s.message().find(fmt::format("seg at byte {}: checksum mismatch", first)), std::string::npos) << s;
  batches.clear();
  s = ReadLogRecords(std::string_view(log).substr(0, first + 5), first + 5, "seg", batches);
  EXPECT_NE(s.message().find("truncated record"), std::string::npos) << s;
}

// What a run logs before its last checkpoint comes back; what it logged after does not.
TEST(CheckpointTest, RestartReplaysUpToTheLastCheckpoint) {
  auto store = MakeMemoryStore();
  {
    auto run = RunPersistence::Open(store, {{"words", 1}}, {"out"});
    ASSERT_TRUE(run.ok());
    EXPECT_FALSE((*run)->recovered());
    ASSERT_TRUE((*run)->StartLogs().ok());
    ASSERT_TRUE((*run)->Log(0, 2, {Word("a"), Word("b")}).ok());
    ASSERT_TRUE((*run)->Log(0, 4, {Word("a", -1)}).ok());
    ASSERT_TRUE((*run)->Log(0, 6, {Word("c")}).ok());
    ASSERT_TRUE((*run)->Checkpoint(6, 6, {io::Offsets{{"p", io::Offset{3, 0, 0, {}}}}}, {"17"}, false).ok());
    ASSERT_TRUE((*run)->Log(0, 8, {Word("d")}).ok());  // after the checkpoint: lost in a crash
  }
  auto run = RunPersistence::Open(store, {{"words", 1}}, {"out"});
  ASSERT_TRUE(run.ok());
  EXPECT_TRUE((*run)->recovered());
  EXPECT_TRUE((*run)->after_crash());
  EXPECT_EQ((*run)->frontier(), 6u);
  EXPECT_EQ((*run)->offsets(0).at("p").position, 3u);
  ASSERT_NE((*run)->sink_position(0), nullptr);
  EXPECT_EQ(*(*run)->sink_position(0), "17");
  absl::StatusOr<std::vector<LoggedBatch>> replay = (*run)->ReadReplay(0);
  ASSERT_TRUE(replay.ok());
  ASSERT_EQ(replay->size(), 2u);
  EXPECT_EQ((*replay)[1].time, 4u);
  EXPECT_EQ(Net(*replay), (std::map<std::string, int64_t>{{"b", 1}}));

  // The restarted run's own log continues the history; a clean stop is recorded.
  ASSERT_TRUE((*run)->StartLogs().ok());
  ASSERT_TRUE((*run)->Log(0, 10, {Word("e")}).ok());
  ASSERT_TRUE((*run)->Checkpoint(12, 12, {std::nullopt}, {"20"}, true).ok());
  auto again = RunPersistence::Open(store, {{"words", 1}}, {"out"});
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE((*again)->after_crash());
  EXPECT_EQ((*again)->sink_position(0), nullptr);  // a clean stop: outputs start afresh
  EXPECT_EQ((*again)->offsets(0).at("p").position, 3u);  // kept where no newer offsets came
  EXPECT_EQ(Net(*(*again)->ReadReplay(0)), (std::map<std::string, int64_t>{{"b", 1}, {"e", 1}}));
}

TEST(CheckpointTest, GraphChangesThatMakeTheStateUnusableAreRefused) {
  auto store = MakeMemoryStore();
  {
    auto run = RunPersistence::Open(store, {{"words", 1}}, {});
    ASSERT_TRUE((*run)->StartLogs().ok());
    ASSERT_TRUE((*run)->Checkpoint(2, 2, {std::nullopt}, {}, true).ok());
  }
  auto changed = RunPersistence::Open(store, {{"words", 2}}, {});
  EXPECT_EQ(changed.status().code(), absl::StatusCode::kFailedPrecondition);
  auto twice = RunPersistence::Open(store, {{"x", 1}, {"x", 1}}, {});
  EXPECT_EQ(twice.status().code(), absl::StatusCode::kInvalidArgument);
  // A source the earlier run did not have starts from nothing; one it had and this run lacks
  // keeps its state.
  auto other = RunPersistence::Open(store, {{"new", 1}}, {});
  ASSERT_TRUE(other.ok());
  EXPECT_TRUE((*other)->offsets(0).empty());
}

// A log that outgrows what it holds is rewritten as one consolidated batch plus what came
// after the checkpoint; the replay's net result is unchanged.
TEST(CheckpointTest, CompactionKeepsTheNetContentAndTheTail) {
  std::string root = (std::filesystem::temp_directory_path() / "deltaflow_compaction_test").string();
  std::filesystem::remove_all(root);
  auto store = MakeFilesystemStore(root);
  ASSERT_TRUE(store.ok());
  std::map<std::string, int64_t> expected;
  {
    auto run = RunPersistence::Open(*store, {{"words", 1}}, {}, /*compact_min_bytes=*/256);
    ASSERT_TRUE((*run)->StartLogs().ok());
    Time t = 2;
    for (int round = 0; round < 20; ++round, t += 2) {
      std::string w = fmt::format("w{}", round % 3);
      ASSERT_TRUE((*run)->Log(0, t, {Word(w)}).ok());
      expected[w] += 1;
      if (round % 2 == 1) {
        ASSERT_TRUE((*run)->Log(0, t, {Word(w, -1)}).ok());
        expected[w] -= 1;
      }
      ASSERT_TRUE((*run)->Checkpoint(t, t, {std::nullopt}, {}, false).ok());
    }
    ASSERT_TRUE((*run)->Log(0, t, {Word("tail")}).ok());  // logged, then checkpointed below
    ASSERT_TRUE((*run)->Checkpoint(t + 2, t + 2, {std::nullopt}, {}, false).ok());
    expected["tail"] = 1;
  }
  for (auto it = expected.begin(); it != expected.end();) it = it->second == 0 ? expected.erase(it) : std::next(it);
  auto run = RunPersistence::Open(*store, {{"words", 1}}, {});
  absl::StatusOr<std::vector<LoggedBatch>> replay = (*run)->ReadReplay(0);
  ASSERT_TRUE(replay.ok()) << replay.status();
  EXPECT_EQ(Net(*replay), expected);
  EXPECT_LT(replay->size(), 10u);  // compacted
  size_t files = 0;
  for (auto& e : std::filesystem::recursive_directory_iterator(root)) files += e.path().extension() == ".log";
  EXPECT_LE(files, 3u);  // retired segments are removed
  std::filesystem::remove_all(root);
}

}  // namespace
}  // namespace deltaflow::persist
