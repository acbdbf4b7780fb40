// Stores: where persisted state lives (the persistence backend).
//
// A `Store` holds named objects ("manifest", "sources/3f2a/log-7"). Small objects are replaced
// whole and atomically (`WriteAtomic`: a reader sees the old bytes or the new ones, never a
// mix, even after a crash at any moment); large ones grow by appends (`OpenAppend`) and are
// read back whole. The filesystem store writes a temporary file, fsyncs it, renames it over
// the old one and fsyncs the directory; appended objects are fsynced by `Appender::Sync`.
// The memory store keeps objects in the process (tests; `pw.persistence.Backend.mock`).
//
// Names are relative paths of letters, digits, '-', '_', '.' and '/'; a store never
// interprets them beyond creating the directories they need.
//
// Threading: a store and its appenders are used from one thread at a time.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace deltaflow::persist {

/// An object being appended to.
class Appender {
 public:
  virtual ~Appender() = default;
  /// Appends `bytes` (buffered: durable only after `Sync`).
  virtual absl::Status Append(std::string_view bytes) = 0;
  /// Returns once everything appended so far is durable.
  virtual absl::Status Sync() = 0;
  /// Bytes in the object, appended ones included.
  virtual uint64_t size() const = 0;
};

class Store {
 public:
  virtual ~Store() = default;

  /// How an object is named in messages (a file's full path).
  virtual std::string Describe(const std::string& name) const = 0;
  /// The object's bytes; `std::nullopt` when there is none.
  virtual absl::StatusOr<std::optional<std::string>> Read(const std::string& name) const = 0;
  /// Up to `length` bytes of the object from `offset` (fewer at its end).
  virtual absl::StatusOr<std::string> ReadRange(const std::string& name, uint64_t offset, uint64_t length) const = 0;
  /// Replaces the object atomically and durably.
  virtual absl::Status WriteAtomic(const std::string& name, std::string_view bytes) = 0;
  /// Opens an object for appending after its first `keep` bytes (what lies beyond is
  /// discarded; a missing object is created). It is an error when the object is shorter.
  virtual absl::StatusOr<std::unique_ptr<Appender>> OpenAppend(const std::string& name, uint64_t keep) = 0;
  /// Removes an object (no error when there is none).
  virtual absl::Status Remove(const std::string& name) = 0;
  /// Holds the store for one run until the returned lease is destroyed; it is an error
  /// (FailedPrecondition) while another run, in this process or another, holds it.
  virtual absl::StatusOr<std::shared_ptr<void>> Lock() = 0;
  /// Names of the objects under `prefix` (a directory-like prefix ending in '/').
  virtual absl::StatusOr<std::vector<std::string>> List(const std::string& prefix) const = 0;
};

/// Objects as files under `root` (created when missing).
absl::StatusOr<std::shared_ptr<Store>> MakeFilesystemStore(std::string root);

/// Objects in memory, shared by every run given the same store (tests, `Backend.mock`).
std::shared_ptr<Store> MakeMemoryStore();

}  // namespace deltaflow::persist
