// Checkpoints: what a run persists so that a restart after a crash loses nothing and repeats
// nothing (input persistence; DESIGN.md, "Persistence").
//
// Each source, identified by its persistent name, has an input log: every batch of changes it
// produced, with the engine time that batch formed, appended as it is polled. A checkpoint at
// frontier `F` (every output is past every time before `F`, and every sink has made what it
// was given durable) records, in one manifest written last and atomically:
//   - per source, how many bytes of its log hold the times before `F`, and the offsets in
//     the system it reads after those times (a file position, a Kafka offset, an LSN);
//   - per sink, its position after the times before `F` (a file's length), where it has one;
//   - `F` itself, the latest time used, and whether the run stopped cleanly.
// A restarted run replays each log up to the recorded length, time by time, with the sinks'
// output for those times suppressed (they wrote it already); the sources seek to their
// offsets; sinks that crashed resume from their positions (discarding what they wrote after
// the checkpoint), so a line is neither lost nor written twice. After a clean stop a new run
// starts its outputs afresh with only what changed since, as Pathway does.
//
// Log compaction: when a source's log outgrows what it holds (it grew past twice its last
// compacted size, and a quarter of what this run logged were retractions, each cancelling an
// earlier insertion: an append-only input has nothing to compact), a checkpoint rewrites the times
// before the previous checkpoint as one consolidated batch, followed by the rest as it was
// (an output that commits on its own, e.g. a Kafka transaction, may lag one checkpoint
// behind and be given that interval again, time by time).
//
// Records and the manifest carry a checksum: a torn or damaged file is an error naming the
// file and the byte where it went wrong, never a silently different result.
//
// Threading: a `RunPersistence` is used from the thread that drives the run only.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "deltaflow/io/sink.h"
#include "deltaflow/io/source.h"
#include "deltaflow/persist/store.h"

namespace deltaflow::persist {

using io::Time;

/// A log segment of a source: an object of the store and how many of its bytes are committed.
struct Segment {
  std::string object;
  uint64_t committed = 0;
};

struct SourceRecord {
  std::string name;
  uint32_t arity = 0;
  std::vector<Segment> segments;
  io::Offsets offsets;
  uint64_t committed_bytes = 0;  // sum over the segments, for compaction decisions
  uint64_t compacted_bytes = 0;  // the consolidated size at the last compaction
  // Logged by this run (not persisted): changes, and of them retractions. An append-only
  // input cannot shrink by compaction; one whose rows come and go can.
  uint64_t logged_changes = 0;
  uint64_t logged_retractions = 0;
};

struct SinkRecord {
  std::string name;
  std::string position;
};

/// The manifest of a checkpoint (see the file comment).
struct Manifest {
  uint64_t id = 0;  // chosen at random when the state is created: names it (transactional ids)
  uint64_t generation = 0;
  Time frontier = 0;
  Time last_time = 0;
  bool clean_stop = false;
  std::vector<SourceRecord> sources;
  std::vector<SinkRecord> sinks;
};

std::string EncodeManifest(const Manifest& manifest);
/// `where` names the object in errors.
absl::StatusOr<Manifest> DecodeManifest(std::string_view bytes, const std::string& where);

/// One source's changes at one time: a record of its input log.
struct LoggedBatch {
  Time time = 0;
  std::vector<io::Change> changes;
};

/// Appends the record of `changes` at `time` to `out`. It is an error (InvalidArgument) for a
/// change to hold a Python object, which cannot be persisted.
absl::Status AppendLogRecord(Time time, const std::vector<io::Change>& changes, std::string& out);
/// Decodes the records in the first `committed` bytes of `bytes` (an object named `where`,
/// from its byte `base`).
absl::Status ReadLogRecords(std::string_view bytes, uint64_t committed, const std::string& where,
                            std::vector<LoggedBatch>& out, uint64_t base = 0);

/// Reads a source's committed log batch by batch (a bounded window of bytes at a time), so a
/// replay never holds the whole log.
class LogCursor {
 public:
  LogCursor(std::shared_ptr<Store> store, std::vector<Segment> segments)
      : store_(std::move(store)), segments_(std::move(segments)) {}
  /// The next batch into `out`; false at the end.
  absl::StatusOr<bool> Next(LoggedBatch& out);

 private:
  std::shared_ptr<Store> store_;
  std::vector<Segment> segments_;
  size_t segment_ = 0;
  uint64_t offset_ = 0;         // of `window_` in the segment
  std::string window_;
  size_t position_ = 0;         // in `window_`
  std::vector<LoggedBatch> decoded_;
  size_t next_decoded_ = 0;
};

/// A source of a run, as persistence identifies it.
struct SourceSpec {
  std::string name;
  uint32_t arity = 0;
};

/// The persistence of one run: recovery at the start, the input logs while it runs, and the
/// checkpoints (see the file comment).
class RunPersistence {
 public:
  /// Reads the last checkpoint (if any) and checks it against this run's sources. It is an
  /// error for two sources to share a name, or for a source to have another arity than the
  /// stored one. A log is compacted once its committed bytes pass `compact_min_bytes` and
  /// twice its size after the last compaction.
  static absl::StatusOr<std::unique_ptr<RunPersistence>> Open(std::shared_ptr<Store> store,
                                                              std::vector<SourceSpec> sources,
                                                              std::vector<std::string> sinks,
                                                              uint64_t compact_min_bytes = uint64_t{8} << 20);

  /// Whether a checkpoint was found.
  bool recovered() const { return recovered_; }
  /// Whether the run that wrote it was stopped by a crash (not cleanly).
  bool after_crash() const { return recovered_ && !previous_.clean_stop; }
  /// Every time before it was written by the earlier run (outputs at those times are done).
  Time frontier() const { return previous_.frontier; }
  /// The latest time the earlier run used: this run's times come after it.
  Time last_time() const { return previous_.last_time; }
  /// Where source `i` resumes (empty: from the start).
  const io::Offsets& offsets(size_t source) const { return current_.sources[source].offsets; }
  /// What source `i` produced before the checkpoint, time by time, oldest first.
  absl::StatusOr<std::vector<LoggedBatch>> ReadReplay(size_t source) const;
  /// The same, read batch by batch.
  LogCursor Replay(size_t source) const { return LogCursor(store_, current_.sources[source].segments); }
  /// Where sink `o` resumes, when it recorded a position and the earlier run crashed.
  const std::string* sink_position(size_t sink) const;
  /// A name for sink `o` that stays the same across the runs of this state (a Kafka sink's
  /// transactional id).
  std::string SinkIdentity(size_t sink) const;

  /// Starts this run's log segments (after recovery).
  absl::Status StartLogs();
  /// Appends source `i`'s changes at `time` to its log (before they enter the dataflow).
  absl::Status Log(size_t source, Time time, const std::vector<io::Change>& changes);
  /// Records a checkpoint at `frontier`: `offsets[i]`, when set, is where source `i` stands
  /// after its times before `frontier` (a log without a source, past the end of `offsets`,
  /// has none); `positions[o]` where sink `o` stands.
  absl::Status Checkpoint(Time frontier, Time last_time, const std::vector<std::optional<io::Offsets>>& offsets,
                          const std::vector<std::string>& positions, bool clean_stop);

 private:
  RunPersistence(std::shared_ptr<Store> store, Manifest previous, Manifest current, bool recovered)
      : store_(std::move(store)), previous_(std::move(previous)), current_(std::move(current)), recovered_(recovered) {}

  // Rewrites source `i`'s committed log: its times before `cut` as one consolidated batch,
  // the later ones as they were, then what was logged after the checkpoint.
  absl::Status Compact(size_t source, Time cut);

  std::shared_ptr<Store> store_;
  Manifest previous_;  // as read at the start
  Manifest current_;   // as of the last checkpoint of this run
  bool recovered_ = false;
  // Per source: the active segment, and its size after each logged time not yet checkpointed.
  struct ActiveLog {
    std::unique_ptr<Appender> appender;
    std::deque<std::pair<Time, uint64_t>> sizes;
  };
  std::vector<ActiveLog> logs_;
  std::string scratch_;
  uint64_t next_segment_ = 0;
  uint64_t compact_min_bytes_ = 0;
};

}  // namespace deltaflow::persist
