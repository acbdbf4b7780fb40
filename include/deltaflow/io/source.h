// Sources: how data from outside enters a dataflow.
//
// A `Source` turns records of an external system (files, a Kafka topic, a Python generator,
// a database's change stream) into changes of one table: `(id, row, diff)`. The run that owns
// a source polls it from one thread; each poll's changes become one engine time (a commit).
// A source says how far it has read with `Offsets()`, so that the run can tell it, once the
// times built from its records are closed and every sink has acknowledged them, to `Commit`
// that position to the system it reads (a Kafka consumer group's offsets, a replication
// slot's confirmed LSN). A restarted source can `Seek` back to a position it reported.
//
// Bad records never stop a source: each is reported through `DrainErrors` with where it was
// (file and line, topic, partition and offset) and why, and the source goes on. A failure of
// the source itself (a broker that refuses the credentials, a server that is gone for good)
// is a non-OK status from `Poll`, and stops the run with that status.
//
// Threading. Every method is called from the thread that drives the run, one call at a time,
// never concurrently. A source may read on threads of its own; the only thing it may call from
// them is the wakeup function it was given. Ordering: `Seek` and `Restore`, when called, come
// first; then `Open`; `Commit` only with offsets that an earlier `Offsets()` returned, in the order
// they were returned; `Close` last (also after a failed `Poll`). A restarted run (persistence)
// calls `Seek` and then `Restore` (batch by batch) before `Open`.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "deltaflow/value/key.h"
#include "deltaflow/value/row.h"

namespace deltaflow::io {

/// Engine time: milliseconds, even for commits (DESIGN.md, "Time").
using Time = uint64_t;

/// One change of a table: `diff` copies of `row` under `id`.
struct Change {
  value::Key id;
  value::Row row;
  int64_t diff = 1;
};

/// A record a source could not read: where it was and why. `source` names the source (its
/// `name=`, or what it reads).
struct SourceError {
  std::string source;
  std::string message;
};

/// How far a source has read one of its partitions (a file, a Kafka partition, ...). What the
/// numbers mean is the source's own: for a file, `position` is the bytes consumed, `sequence`
/// the next line number and `fingerprint` a hash of the consumed bytes that tells an appended
/// file from a rewritten one; for a Kafka partition, `position` is the next offset to read.
struct Offset {
  uint64_t position = 0;
  uint64_t sequence = 0;
  uint64_t fingerprint = 0;
  std::string opaque;  ///< what a source keeps that is not a number (a Python subject's state)

  bool operator==(const Offset&) const = default;
};

/// Offsets by partition name ("orders/3" for partition 3 of topic orders; a file's path).
using Offsets = std::map<std::string, Offset>;

/// What a source is told when it opens: the run it belongs to.
struct SourceContext {
  /// The run's worker count: a source that reads partitions in parallel sizes itself by it.
  uint32_t workers = 1;
};

enum class PollResult : uint8_t {
  kMore,      ///< The source is open: poll it again.
  kFinished,  ///< Nothing more will come (this poll's changes included).
};

/// For `Source::Restore`: applies a replayed batch to the rows a source keeps by id (an
/// insertion sets the id's row, a retraction removes it; notes are skipped).
template <typename RowsById>
void RestoreRowsById(const std::vector<Change>& batch, RowsById& rows) {
  for (const Change& c : batch) {
    if (c.diff > 0) {
      rows.insert_or_assign(c.id, c.row);
    } else if (c.diff < 0) {
      rows.erase(c.id);
    }
  }
}

/// A live source; see the file comment for the contract.
class Source {
 public:
  virtual ~Source() = default;

  /// Connects and starts reading (threads of the source start here). It is an error to call
  /// it twice.
  virtual absl::Status Open(const SourceContext& context) {
    (void)context;
    return absl::OkStatus();
  }

  /// Appends changes read since the last call to `out`, at most about `max_rows` of them (a
  /// source may go over by the changes of one record, or of one file, and keeps the rest for
  /// later polls); all of them form one commit. A poll may return no changes. Retractions of
  /// an id come before its insertions.
  virtual absl::StatusOr<PollResult> Poll(std::vector<Change>& out, size_t max_rows) = 0;

  /// Where the source stands after the last `Poll`: restarting from these offsets reads what
  /// came after that poll. Empty for a source that cannot resume.
  virtual Offsets CurrentOffsets() const { return {}; }

  /// Resumes from `offsets` (from an earlier run's `CurrentOffsets`) instead of the start.
  virtual absl::Status Seek(const Offsets& offsets) {
    if (offsets.empty()) return absl::OkStatus();
    return absl::UnimplementedError("this source cannot resume from an offset");
  }

  /// The run persists this source (called before anything else). From then on a poll may
  /// add notes for the source's own bookkeeping: changes with `diff == 0` (which file a row
  /// came from), logged with the input, given back to `Restore`, never entering the dataflow.
  virtual void OnPersisted() {}

  /// A restarted run's replay, one batch at a time in the order they were produced (after
  /// `Seek` with the offsets of the same checkpoint, before `Open`): what this source produced
  /// before that checkpoint, notes (`diff == 0`) included. A source that keeps state about its
  /// rows (to retract a rewritten file's rows, to turn an upsert into a retraction and an
  /// insertion) rebuilds it from them, copying what it keeps: the rows go on into the dataflow.
  virtual void Restore(const std::vector<Change>& batch) { (void)batch; }

  /// Everything up to `offsets` is durable downstream: the source may acknowledge it to the
  /// system it reads (commit a consumer group's offsets). Called with offsets that
  /// `CurrentOffsets` returned, oldest first; may skip some.
  virtual absl::Status Commit(const Offsets& offsets) {
    (void)offsets;
    return absl::OkStatus();
  }

  /// Moves the records the source could not read (with where and why) into `errors`.
  virtual void DrainErrors(std::vector<SourceError>& errors) { (void)errors; }

  /// Receives a function the source may call, from any thread, when it has new data, so that
  /// the run polls it at once instead of at its next regular poll. `nullptr` withdraws it.
  virtual void SetWakeup(std::function<void()> wakeup) { (void)wakeup; }

  /// Stops the source's threads and releases its connections. Idempotent.
  virtual void Close() {}
};

}  // namespace deltaflow::io
