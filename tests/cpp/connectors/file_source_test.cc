// The file connector: CSV splitting and typing, JSON lines, streaming directory changes, bad
// records reported with file, line and reason.
#include "deltaflow/connectors/fs/file_source.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include <sys/wait.h>
#include <unistd.h>

#include "deltaflow/connectors/fs/file_sink.h"

namespace deltaflow::connectors::fs {
namespace {

namespace stdfs = std::filesystem;

std::string TempDir(const std::string& name) {
  std::string dir = (stdfs::temp_directory_path() / ("deltaflow-fs-test-" + name + "-" + std::to_string(::getpid()))).string();
  stdfs::remove_all(dir);
  stdfs::create_directories(dir);
  return dir;
}

void Write(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
}

FileSourceOptions WordOptions(const std::string& path, Format format, bool streaming) {
  FileSourceOptions options;
  options.path = path;
  options.format = format;
  options.streaming = streaming;
  options.columns = {{"word", ColumnType::kString, false, std::nullopt}, {"n", ColumnType::kInt, false, std::nullopt}};
  options.refresh_ms = 0;
  return options;
}

// Live rows as "word:n" -> multiplicity.
std::map<std::string, int64_t> Apply(std::map<std::string, int64_t> state, const std::vector<io::Change>& updates) {
  for (const auto& u : updates) {
    std::string key = std::string(u.row[0].AsString()) + ":" + std::to_string(u.row[1].AsInt());
    state[key] += u.diff;
    if (state[key] == 0) state.erase(key);
  }
  return state;
}

TEST(FileSourceTest, ReadsQuotedCsvAndReportsBadLines) {
  std::string dir = TempDir("csv");
  Write(dir + "/a.csv", "word,n\nhello,1\n\"a,b\",2\n\"say \"\"hi\"\"\",3\nbad,x\nshort\n");
  auto source = FileSource::Make(WordOptions(dir, Format::kCsv, false));
  ASSERT_TRUE(source.ok()) << source.status();
  std::vector<io::Change> out;
  EXPECT_EQ(*(*source)->Poll(out, SIZE_MAX), io::PollResult::kFinished);  // static: everything at once, then done
  auto state = Apply({}, out);
  EXPECT_EQ(state, (std::map<std::string, int64_t>{{"hello:1", 1}, {"a,b:2", 1}, {"say \"hi\":3", 1}}));
  std::vector<io::SourceError> errors;
  (*source)->DrainErrors(errors);
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_NE(errors[0].message.find("a.csv:5: cannot parse \"x\" as int"), std::string::npos) << errors[0].message;
  EXPECT_NE(errors[1].message.find("a.csv:6"), std::string::npos) << errors[1].message;
}

TEST(FileSourceTest, JsonLinesWithMissingFieldsAndInvalidJson) {
  std::string dir = TempDir("json");
  Write(dir + "/a.jsonl", "{\"word\": \"x\", \"n\": 1}\n{\"word\": \"y\"}\nnot json\n{\"n\": 3, \"word\": \"z\"}\n");
  auto source = FileSource::Make(WordOptions(dir + "/a.jsonl", Format::kJson, false));
  ASSERT_TRUE(source.ok());
  std::vector<io::Change> out;
  ASSERT_TRUE((*source)->Poll(out, SIZE_MAX).ok());
  EXPECT_EQ(Apply({}, out), (std::map<std::string, int64_t>{{"x:1", 1}, {"z:3", 1}}));
  std::vector<io::SourceError> errors;
  (*source)->DrainErrors(errors);
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_NE(errors[0].message.find("a.jsonl:2: missing field n"), std::string::npos) << errors[0].message;
  EXPECT_NE(errors[1].message.find("a.jsonl:3: invalid JSON"), std::string::npos) << errors[1].message;
}

TEST(FileSourceTest, StreamingFollowsAppendsRewritesAndDeletions) {
  std::string dir = TempDir("stream");
  auto source = FileSource::Make(WordOptions(dir, Format::kCsv, true));
  ASSERT_TRUE(source.ok());
  std::map<std::string, int64_t> state;
  auto poll = [&] {
    std::vector<io::Change> out;
    EXPECT_EQ(*(*source)->Poll(out, SIZE_MAX), io::PollResult::kMore);
    state = Apply(state, out);
  };
  Write(dir + "/1.csv", "word,n\na,1\nb,2");  // the last line has no newline: read as it stands
  poll();
  EXPECT_EQ(state, (std::map<std::string, int64_t>{{"a:1", 1}, {"b:2", 1}}));
  {
    std::ofstream out(dir + "/1.csv", std::ios::app);
    out << "\nc,3\n";
  }
  poll();
  EXPECT_EQ(state, (std::map<std::string, int64_t>{{"a:1", 1}, {"b:2", 1}, {"c:3", 1}}));
  Write(dir + "/2.csv", "word,n\nd,4\n");
  poll();
  EXPECT_EQ(state.size(), 4u);
  Write(dir + "/1.csv", "word,n\ne,5\n");  // rewritten (shorter)
  poll();
  EXPECT_EQ(state, (std::map<std::string, int64_t>{{"d:4", 1}, {"e:5", 1}}));
  Write(dir + "/1.csv", "word,n\nf,6\ng,7\n");  // rewritten (longer): not an append
  poll();
  EXPECT_EQ(state, (std::map<std::string, int64_t>{{"d:4", 1}, {"f:6", 1}, {"g:7", 1}}));
  stdfs::remove(dir + "/2.csv");
  poll();
  EXPECT_EQ(state, (std::map<std::string, int64_t>{{"f:6", 1}, {"g:7", 1}}));
}

TEST(FileSourceTest, ALastLineWithoutNewlineIsReadAgainWhenItGrows) {
  std::string dir = TempDir("partial");
  auto source = FileSource::Make(WordOptions(dir, Format::kCsv, true));
  ASSERT_TRUE(source.ok());
  std::map<std::string, int64_t> state;
  auto poll = [&] {
    std::vector<io::Change> out;
    EXPECT_EQ(*(*source)->Poll(out, SIZE_MAX), io::PollResult::kMore);
    state = Apply(state, out);
  };
  Write(dir + "/1.csv", "word,n");  // only a header, without its newline
  poll();
  EXPECT_TRUE(state.empty());
  {
    std::ofstream out(dir + "/1.csv", std::ios::app);
    out << "\na,1\nb,2";
  }
  poll();
  EXPECT_EQ(state, (std::map<std::string, int64_t>{{"a:1", 1}, {"b:2", 1}}));
  {
    std::ofstream out(dir + "/1.csv", std::ios::app);
    out << "5\n\"open,3\n";  // b,2 becomes b,25; a quote is left open
  }
  poll();
  EXPECT_EQ(state, (std::map<std::string, int64_t>{{"a:1", 1}, {"b:25", 1}}));
  std::vector<io::SourceError> errors;
  (*source)->DrainErrors(errors);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].message.find("1.csv:4: unterminated quoted field"), std::string::npos) << errors[0].message;
  {
    std::ofstream out(dir + "/1.csv", std::ios::app);
    out << "\",3\n";  // the quote closes: the record is "open,3\n",3
  }
  poll();
  EXPECT_EQ(state.size(), 3u);
  EXPECT_EQ(state.count("open,3\n:3"), 1u);
}

// The scenario of the next test; returns what went wrong (empty: nothing).
std::string UnreadableFileScenario(const std::string& dir) {
  Write(dir + "/1.csv", "word,n\na,1\n");
  std::filesystem::permissions(dir + "/1.csv", std::filesystem::perms::none);
  auto source = FileSource::Make(WordOptions(dir, Format::kCsv, true));
  if (!source.ok()) return std::string(source.status().message());
  std::vector<io::Change> out;
  if (!(*source)->Poll(out, SIZE_MAX).ok() || !(*source)->Poll(out, SIZE_MAX).ok()) return "poll failed";
  if (!out.empty()) return "rows from an unreadable file";
  std::vector<io::SourceError> errors;
  (*source)->DrainErrors(errors);
  if (errors.size() != 1) return "expected one error, got " + std::to_string(errors.size());
  if (errors[0].message.find("1.csv: cannot open the file: Permission denied") == std::string::npos) {
    return "unexpected error: " + errors[0].message;
  }
  std::filesystem::permissions(dir + "/1.csv", std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  if (!(*source)->Poll(out, SIZE_MAX).ok()) return "poll failed";
  if (Apply({}, out) != std::map<std::string, int64_t>{{"a:1", 1}}) return "the file was not read once readable";
  return "";
}

TEST(FileSourceTest, AFileThatCannotBeOpenedIsReportedOnceAndRetried) {
  std::string dir = TempDir("unreadable");
  if (::geteuid() != 0) {
    EXPECT_EQ(UnreadableFileScenario(dir), "");
    return;
  }
  // Root opens every file: the scenario runs in a child that is someone else.
  std::filesystem::permissions(dir, std::filesystem::perms::all);
  int pipe_fds[2];
  ASSERT_EQ(::pipe(pipe_fds), 0);
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::close(pipe_fds[0]);
    std::string result = ::setgid(65534) == 0 && ::setuid(65534) == 0 ? UnreadableFileScenario(dir) : "setuid failed";
    (void)!::write(pipe_fds[1], result.data(), result.size());
    ::_exit(0);
  }
  ::close(pipe_fds[1]);
  std::string result;
  char buffer[256];
  for (ssize_t n; (n = ::read(pipe_fds[0], buffer, sizeof(buffer))) > 0;) result.append(buffer, static_cast<size_t>(n));
  ::close(pipe_fds[0]);
  int status = 0;
  ::waitpid(child, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_EQ(result, "");
}

TEST(FileSourceTest, WatchedTreesFollowNewDirectoriesAndFilesMovedInAndOut) {
  std::string dir = TempDir("tree");
  std::string outside = TempDir("outside");
  auto source = FileSource::Make(WordOptions(dir, Format::kCsv, true));
  ASSERT_TRUE(source.ok());
  std::map<std::string, int64_t> state;
  auto poll = [&] {
    std::vector<io::Change> out;
    EXPECT_EQ(*(*source)->Poll(out, SIZE_MAX), io::PollResult::kMore);
    state = Apply(state, out);
  };
  poll();
  stdfs::create_directories(dir + "/sub/deeper");
  Write(dir + "/sub/deeper/1.csv", "word,n\na,1\n");
  poll();
  EXPECT_EQ(state, (std::map<std::string, int64_t>{{"a:1", 1}}));
  Write(outside + "/2.csv", "word,n\nb,2\n");
  stdfs::rename(outside + "/2.csv", dir + "/sub/2.csv");  // moved in
  poll();
  EXPECT_EQ(state, (std::map<std::string, int64_t>{{"a:1", 1}, {"b:2", 1}}));
  stdfs::rename(dir + "/sub/deeper/1.csv", outside + "/1.csv");  // moved out
  poll();
  EXPECT_EQ(state, (std::map<std::string, int64_t>{{"b:2", 1}}));
}

TEST(FileSourceTest, PrimaryKeyUpserts) {
  std::string dir = TempDir("pk");
  auto options = WordOptions(dir, Format::kCsv, true);
  options.primary_key = {0};
  auto source = FileSource::Make(options);
  ASSERT_TRUE(source.ok());
  std::map<std::string, int64_t> state;
  std::vector<io::Change> out;
  Write(dir + "/1.csv", "word,n\na,1\n");
  ASSERT_TRUE((*source)->Poll(out, SIZE_MAX).ok());
  Write(dir + "/2.csv", "word,n\na,7\n");
  ASSERT_TRUE((*source)->Poll(out, SIZE_MAX).ok());
  EXPECT_EQ(Apply({}, out), (std::map<std::string, int64_t>{{"a:7", 1}}));
}

TEST(FileSourceTest, MissingPathIsAnErrorInStaticMode) {
  auto source = FileSource::Make(WordOptions("/nonexistent/deltaflow/input.csv", Format::kCsv, false));
  EXPECT_FALSE(source.ok());
}

TEST(FileSinkTest, WritesCsvAndJsonLinesWithTimeAndDiff) {
  std::string dir = TempDir("sink");
  auto csv = FileSink::Make(dir + "/out.csv", SinkFormat::kCsv, {"word", "n"});
  auto json = FileSink::Make(dir + "/out.jsonl", SinkFormat::kJson, {"word", "n"});
  ASSERT_TRUE(csv.ok() && json.ok());
  value::RowBuilder b;
  b.String("a,\"q\"").Int(3);
  std::vector<io::Change> changes{{value::Key(), b.Finish(), -1}};
  auto copy = changes;
  ASSERT_TRUE((*csv)->Write(4, changes).ok());
  ASSERT_TRUE((*json)->Write(4, copy).ok());
  csv->reset();
  json->reset();
  std::ifstream c(dir + "/out.csv"), j(dir + "/out.jsonl");
  std::string text((std::istreambuf_iterator<char>(c)), {}), jtext((std::istreambuf_iterator<char>(j)), {});
  EXPECT_EQ(text, "\"word\",\"n\",\"time\",\"diff\"\n\"a,\"\"q\"\"\",\"3\",\"4\",\"-1\"\n");
  EXPECT_EQ(jtext, "{\"word\":\"a,\\\"q\\\"\",\"n\":3,\"diff\":-1,\"time\":4}\n");
}

}  // namespace
}  // namespace deltaflow::connectors::fs
