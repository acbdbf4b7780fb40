// Sinks: how a table's changes leave a dataflow.
//
// A `Sink` receives an output table's changes one closed time at a time: the consolidated
// changes of that time, every retraction first, then every insertion, each part in id order. It writes them
// to the system it serves (a file, a Kafka topic, a database table, a Python callback).
//
// Durability is explicit. `Write` may buffer; `Flush` returns only once everything written
// before it is durable in the target (flushed to the file, acknowledged by the broker,
// committed by the server), or with the error that prevents it. The run flushes every sink
// before it commits source offsets, so a source never acknowledges input whose results a sink
// could still lose. `Commit` is the hook for exactly-once output (the persistence layer): it
// names the time through which the run has taken a consistent checkpoint, for a sink that
// records its own committed position with its data.
//
// Persistence. At a checkpoint, after a `Flush`, the run asks each sink for its `Position`
// (a file's length; the checkpoint's frontier for a table of changes stamped with their
// times) and records it with the checkpoint; a run restarted after a crash calls
// `Resume` with it before anything else, and the sink discards what it wrote after that
// position, so that the output holds every change exactly once. A sink that commits in
// transactions of its own (Kafka) is told to `StartTransactions` instead: what it is given
// becomes visible in the target only at `Commit(frontier)`, which the run calls after each
// checkpoint, recording `frontier` in the same transaction; after a crash the run asks it for
// `CommittedFrontier` and gives it again, from the replay, what came after that. A sink with
// neither (the default) delivers again what came after the last checkpoint (at least once).
//
// Threading. Every method is called from the thread that drives the run, one call at a time,
// never concurrently. Ordering: `Write` with strictly increasing times; `Flush` and `Commit`
// at any point between writes; `End` once, when the table is complete and every change has
// been written (other outputs and sources may still be running); after a failed call, no
// further calls but the destructor.
#pragma once

#include <vector>

#include "absl/status/status.h"
#include "deltaflow/io/source.h"

namespace deltaflow::io {

/// An output; see the file comment for the contract.
class Sink {
 public:
  virtual ~Sink() = default;

  /// The changes of the closed time `time` (never empty): every retraction, then every
  /// insertion, each part in id order. The sink may take the changes (move out of them).
  virtual absl::Status Write(Time time, std::vector<Change>& changes) = 0;

  /// Returns once everything written so far is durable in the target.
  virtual absl::Status Flush() { return absl::OkStatus(); }

  /// Every time before `frontier` is part of a consistent checkpoint (exactly-once outputs).
  virtual absl::Status Commit(Time frontier) {
    (void)frontier;
    return absl::OkStatus();
  }

  /// Where the sink stands at a checkpoint at `frontier` (everything written so far, every
  /// time before `frontier`, is durable: called after `Flush`); empty when it cannot resume.
  virtual absl::StatusOr<std::string> Position(Time frontier) {
    (void)frontier;
    return std::string();
  }

  /// A restart after a crash: continue from `position` (an earlier run's `Position`),
  /// discarding what was written after it. Called before the first `Write`.
  virtual absl::Status Resume(const std::string& position) {
    (void)position;
    return absl::OkStatus();
  }

  /// Persistence: switch to transactions under `identity` (the same across the runs of one
  /// persisted state: a second writer with it is fenced off). Called before anything else;
  /// false (the default) when the sink has no transactions.
  virtual absl::StatusOr<bool> StartTransactions(const std::string& identity) {
    (void)identity;
    return false;
  }

  /// After `StartTransactions`: the frontier of the last committed transaction (0: none).
  virtual absl::StatusOr<Time> CommittedFrontier() { return Time{0}; }

  /// The table is complete and every change was written: flush and finish.
  virtual absl::Status End() { return Flush(); }
};

}  // namespace deltaflow::io
