#include <sys/inotify.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <memory>

#include "directory_watch_internal.h"

namespace deltaflow::connectors::fs {

namespace {

constexpr uint32_t kDirectoryEvents = IN_CREATE | IN_MODIFY | IN_CLOSE_WRITE | IN_DELETE | IN_MOVED_FROM |
                                      IN_MOVED_TO | IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR;

}  // namespace

DirectoryWatch::~DirectoryWatch() { ::close(fd_); }

std::unique_ptr<DirectoryWatch> DirectoryWatch::Make(const std::string& root, bool recursive) {
  int fd = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (fd < 0) return nullptr;
  std::unique_ptr<DirectoryWatch> watch(new DirectoryWatch(fd, recursive));
  if (!watch->AddTree(root)) return nullptr;
  return watch;
}

bool DirectoryWatch::AddTree(const std::string& dir) {
  int wd = ::inotify_add_watch(fd_, dir.c_str(), kDirectoryEvents);
  if (wd < 0) return false;
  directories_[wd] = dir;
  if (!recursive_) return true;
  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator(dir, ec); !ec && it != std::filesystem::directory_iterator();
       it.increment(ec)) {
    if (it->is_directory(ec) && !it->is_symlink(ec) && !AddTree(it->path().string())) return false;
  }
  return true;
}

bool DirectoryWatch::Drain(std::set<std::string>& changed) {
  alignas(inotify_event) char buffer[64 * 1024];
  bool complete = true;
  while (true) {
    ssize_t n = ::read(fd_, buffer, sizeof(buffer));
    if (n <= 0) {
      // EAGAIN: nothing more now. Anything else: the watch is broken; scan instead.
      if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) complete = false;
      break;
    }
    for (char* p = buffer; p < buffer + n;) {
      auto* event = reinterpret_cast<inotify_event*>(p);
      p += sizeof(inotify_event) + event->len;
      if ((event->mask & IN_Q_OVERFLOW) != 0) {
        complete = false;
        continue;
      }
      auto dir = directories_.find(event->wd);
      if (dir == directories_.end()) continue;
      if ((event->mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED)) != 0) {
        // A watched directory went away (or was moved): its files are found by a scan.
        directories_.erase(dir);
        complete = false;
        continue;
      }
      if (event->len == 0) continue;
      std::string path = dir->second + "/" + event->name;
      if ((event->mask & IN_ISDIR) != 0) {
        // A directory appeared or moved in: watch it, and scan for what it already holds.
        if (recursive_ && (event->mask & (IN_CREATE | IN_MOVED_TO)) != 0) AddTree(path);
        complete = false;
        continue;
      }
      changed.insert(std::move(path));
    }
  }
  return complete;
}

}  // namespace deltaflow::connectors::fs
