// DirectoryWatch: the changes of a directory tree as they happen, through Linux's inotify.
//
// A watched file source learns which files were created, written, closed, deleted or moved
// from the kernel instead of looking at every file again and again: with 10,000 files that do
// not change, watching costs nothing between events. Subdirectories created later are
// watched as they appear. When the kernel's event queue overflowed (or a watched directory
// went away), `Drain` says so and the source scans the whole tree again.
//
// Threading: one thread uses a watch.
#pragma once

#include <set>
#include <string>
#include <unordered_map>

namespace deltaflow::connectors::fs {

class DirectoryWatch {
 public:
  DirectoryWatch(const DirectoryWatch&) = delete;
  DirectoryWatch& operator=(const DirectoryWatch&) = delete;
  ~DirectoryWatch();

  /// Watches `root` and, with `recursive`, every directory below it; null when inotify is not
  /// available (the caller then polls).
  static std::unique_ptr<DirectoryWatch> Make(const std::string& root, bool recursive);

  /// Adds the paths changed since the last call (files created, written, deleted or moved
  /// in or out) to `changed`. Returns false when the caller must scan everything again.
  bool Drain(std::set<std::string>& changed);

 private:
  DirectoryWatch(int fd, bool recursive) : fd_(fd), recursive_(recursive) {}
  // Watches `dir` (and, when recursive, its subdirectories). False if it could not.
  bool AddTree(const std::string& dir);

  int fd_;
  bool recursive_;
  std::unordered_map<int, std::string> directories_;  // watch descriptor -> directory
};

}  // namespace deltaflow::connectors::fs
