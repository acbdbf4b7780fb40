// An incremental word count built directly on deltaflow's C++ dataflow API.
//
// Lines go into an input session; the dataflow splits them into lowercase words (anything
// that is not an ASCII letter separates words), counts each word, and captures the changes
// to the counts. Each round adds or retracts a few lines at one time, then advances the input
// by 2 and steps the worker until a probe shows that time is complete; the changes of that
// time are printed, e.g. a third "fox" reads
//
//   time 2: +("fox", 3) -("fox", 2)
//
// Nothing is recomputed from scratch: a round costs work for the words it touches only.
#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "deltaflow/dd/collection.h"
#include "deltaflow/dd/operators/reduce.h"
#include "deltaflow/runtime/worker.h"

namespace {

using Time = uint64_t;
using WordCount = std::pair<std::string, int64_t>;

// The lowercase words of `line`: maximal runs of ASCII letters.
std::vector<std::string> Words(const std::string& line) {
  std::vector<std::string> words;
  std::string word;
  for (char c : line) {
    const auto u = static_cast<unsigned char>(c);
    if (std::isalpha(u) != 0) {
      word.push_back(static_cast<char>(std::tolower(u)));
    } else if (!word.empty()) {
      words.push_back(std::move(word));
      word.clear();
    }
  }
  if (!word.empty()) words.push_back(std::move(word));
  return words;
}

// Prints the consolidated changes of `time`: word order, insertions before retractions.
void PrintChanges(Time time, std::vector<deltaflow::dd::Update<WordCount, Time, int64_t>>& changes) {
  deltaflow::dd::ConsolidateUpdates(changes);
  std::sort(changes.begin(), changes.end(), [](const auto& a, const auto& b) {
    if (a.data.first != b.data.first) return a.data.first < b.data.first;
    if ((a.diff > 0) != (b.diff > 0)) return a.diff > 0;
    return a.data.second < b.data.second;
  });
  std::string out = "time " + std::to_string(time) + ":";
  for (const auto& change : changes) {
    for (int64_t n = change.diff > 0 ? change.diff : -change.diff; n > 0; --n) {
      out += change.diff > 0 ? " +(\"" : " -(\"";
      out += change.data.first + "\", " + std::to_string(change.data.second) + ")";
    }
  }
  if (changes.empty()) out += " (no change)";
  std::puts(out.c_str());
}

}  // namespace

int main() {
  namespace dd = deltaflow::dd;

  dd::Worker<Time> worker;
  auto [lines, text] = dd::NewInput<std::string>(worker);
  auto counts = dd::Count(text.FlatMap(Words));
  dd::CapturedUpdates<WordCount, Time> captured = counts.Capture();
  dd::ProbeHandle<Time> probe = counts.Probe();
  if (absl::Status status = worker.Finalize(); !status.ok()) {
    std::fprintf(stderr, "wordcount: %s\n", std::string(status.message()).c_str());
    return 1;
  }

  // Each round: lines added (+1) or retracted (-1) at the round's time.
  const std::vector<std::vector<std::pair<std::string, int64_t>>> rounds = {
      {{"The quick brown fox", +1}, {"jumps over the lazy dog.", +1}},
      {{"The fox, the FOX!", +1}},
      {{"jumps over the lazy dog.", -1}, {"A lazy afternoon", +1}},
      {{"The fox, the FOX!", -1}, {"The quick brown fox", -1}},
  };
  for (const auto& round : rounds) {
    const Time now = lines->time();
    for (const auto& [line, diff] : round) lines->Update(line, diff);
    lines->AdvanceTo(now + 2);
    while (probe.LessThan(now + 2)) worker.Step();

    // Every change at `now` has arrived: drain and print them.
    std::vector<dd::Update<WordCount, Time, int64_t>> changes;
    std::erase_if(*captured, [&](auto& update) {
      if (update.time != now) return false;
      changes.push_back(std::move(update));
      return true;
    });
    PrintChanges(now, changes);
  }
  lines->Close();
  worker.StepUntilIdle();
  if (!worker.Done() || !captured->empty()) {
    std::fprintf(stderr, "wordcount: dataflow did not finish cleanly\n");
    return 1;
  }
  return 0;
}
