#include "deltaflow/connectors/fs/file_source.h"

#include "directory_watch_internal.h"

#include <fnmatch.h>
#include <pwd.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <cctype>
#include <charconv>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "fmt/format.h"
#include "simdjson.h"

namespace deltaflow::connectors::fs {

namespace {

using value::Key;
using value::Row;
using value::RowBuilder;

bool WholeFile(Format format) {
  return format == Format::kPlaintextByFile || format == Format::kBinary || format == Format::kOnlyMetadata;
}

}  // namespace

FileSource::~FileSource() = default;

FileSource::FileSource(FileSourceOptions options)
    : options_(std::move(options)),
      dsv_(options_.columns, io::DsvDialect{options_.delimiter, options_.quote, options_.escape, options_.comment},
           options_.has_header),
      json_(options_.columns, options_.json_paths) {}

absl::StatusOr<std::unique_ptr<FileSource>> FileSource::Make(FileSourceOptions options) {
  std::error_code ec;
  bool glob = options.path.find_first_of("*?[") != std::string::npos &&
              std::filesystem::is_directory(std::filesystem::path(options.path).parent_path(), ec);
  if (!std::filesystem::exists(options.path, ec) && !options.streaming && !glob) {
    return absl::NotFoundError(fmt::format("{}: no such file or directory: {}", options.name, options.path));
  }
  for (int k : options.primary_key) {
    if (k < 0 || k >= static_cast<int>(options.columns.size())) {
      return absl::InvalidArgumentError(fmt::format("{}: primary key column {} out of range", options.name, k));
    }
  }
  return std::unique_ptr<FileSource>(new FileSource(std::move(options)));
}

void FileSource::Error(const std::string& path, uint64_t line, std::string_view reason) {
  errors_.push_back({options_.name, fmt::format("{}:{}: {}", path, line, reason)});
}

void FileSource::Error(const std::string& path, std::string_view reason) {
  errors_.push_back({options_.name, fmt::format("{}: {}", path, reason)});
}

void FileSource::DrainErrors(std::vector<io::SourceError>& errors) {
  for (auto& e : errors_) errors.push_back(std::move(e));
  errors_.clear();
}

absl::StatusOr<io::PollResult> FileSource::Poll(std::vector<io::Change>& out, size_t max_rows) {
  (void)max_rows;  // a poll reads whole files (static) or whatever changed (streaming)
  if (done_) return io::PollResult::kFinished;
  if (!restore_finished_) FinishRestore();
  if (!options_.streaming) {
    // Static: every file present at the start, each read whole as its own commit.
    if (!static_paths_) {
      static_paths_ = ListPaths();
      // Resumed files that are gone (deleted while the pipeline was down) are retracted.
      for (auto it = files_.begin(); it != files_.end();) {
        if (!std::binary_search(static_paths_->begin(), static_paths_->end(), it->first)) {
          Retract(it->second, out);
          it = files_.erase(it);
        } else {
          ++it;
        }
      }
    }
    if (static_next_ < static_paths_->size()) ReadPath((*static_paths_)[static_next_++], out);
    done_ = static_next_ >= static_paths_->size();
    return done_ ? io::PollResult::kFinished : io::PollResult::kMore;
  }
  if (!watch_started_) StartWatch();
  int64_t now = absl::GetCurrentTimeNanos();
  constexpr int64_t kFullScanNs = int64_t{10} * 1000000000;  // a safety net under inotify
  if (watch_ && last_scan_ns_ != 0 && now - last_scan_ns_ < kFullScanNs && ScanChanged(out)) {
    return io::PollResult::kMore;
  }
  if (!watch_ && now - last_scan_ns_ < static_cast<int64_t>(options_.refresh_ms) * 1000000) return io::PollResult::kMore;
  last_scan_ns_ = now;
  Scan(out);
  return io::PollResult::kMore;
}

io::Offsets FileSource::CurrentOffsets() const {
  io::Offsets offsets;
  for (const auto& [path, state] : files_) {
    if (state.open_failed && state.offset == 0) continue;
    io::Offset& offset = offsets[path];
    if (state.partial_from) {
      offset = io::Offset{*state.partial_from, state.partial_line, state.partial_fingerprint, {}};
    } else {
      offset = io::Offset{state.offset, state.next_line, state.fingerprint, {}};
    }
    offset.opaque = std::to_string(state.mtime_ns);
    if (state.partial_from) offset.opaque += " partial";  // the line at `sequence` is read again
  }
  return offsets;
}

value::Key FileSource::LineId(const std::string& path, uint64_t line) {
  RowBuilder kb;
  kb.String(path).Int(static_cast<int64_t>(line));
  return value::IdFromValues(kb.Finish().values());
}

absl::Status FileSource::Seek(const io::Offsets& offsets) {
  for (const auto& [path, offset] : offsets) {
    FileState& state = files_[path];
    state.offset = offset.position;
    state.next_line = offset.sequence;
    state.fingerprint = offset.fingerprint;
    int64_t mtime = 0;
    std::from_chars(offset.opaque.data(), offset.opaque.data() + offset.opaque.size(), mtime);
    state.mtime_ns = mtime;
    state.size = offset.position;
    state.resumed = true;
    bool partial = offset.opaque.find(" partial") != std::string::npos;
    // The rows a file gave are needed where they may be retracted: a watched file (it may be
    // rewritten later), one rewritten or deleted while the pipeline was down, a last line
    // without a newline (read again). Without a primary key they are found by their line ids.
    state.rows_pending = options_.streaming || partial || !Unchanged(path, state);
    if (!state.rows_pending || !options_.primary_key.empty()) continue;
    for (uint64_t line = partial && !options_.streaming && Unchanged(path, state) ? offset.sequence : 1;
         line <= offset.sequence; ++line) {
      wanted_.insert(LineId(path, line));
    }
  }
  return absl::OkStatus();
}

bool FileSource::Unchanged(const std::string& path, const FileState& state) const {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) return false;
  uint64_t size = static_cast<uint64_t>(st.st_size);
  int64_t mtime = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  if (WholeFile(options_.format)) {
    return size == state.offset && mtime == state.mtime_ns && Fingerprint(path, size) == state.fingerprint;
  }
  return size >= state.offset && Fingerprint(path, state.offset) == state.fingerprint;
}

void FileSource::Restore(const std::vector<io::Change>& batch) {
  for (const io::Change& c : batch) {
    if (c.diff == 0) {
      // A note: under a primary key, the file the key's row comes from.
      if (c.row.view().arity() == 1) owner_.insert_or_assign(c.id, std::string(c.row.view()[0].AsString()));
    } else if (!options_.primary_key.empty()) {
      if (c.diff > 0) {
        by_key_.insert_or_assign(c.id, std::pair(c.row, int64_t{1}));
      } else if (auto it = by_key_.find(c.id); it != by_key_.end() && it->second.first == c.row) {
        by_key_.erase(it);
      }
    } else if (wanted_.contains(c.id)) {
      if (c.diff > 0) {
        restored_.insert_or_assign(c.id, c.row);
      } else {
        restored_.erase(c.id);
      }
    }
  }
}

void FileSource::FinishRestore() {
  restore_finished_ = true;
  if (!options_.primary_key.empty()) {
    for (auto& [key, path] : owner_) {
      auto file = files_.find(path);
      auto row = by_key_.find(key);
      if (file == files_.end() || !file->second.rows_pending || row == by_key_.end()) continue;
      file->second.rows.emplace_back(key, row->second.first);
    }
  } else if (!restored_.empty()) {
    for (auto& [path, state] : files_) {
      if (!state.rows_pending) continue;
      for (uint64_t line = 1; line <= state.next_line; ++line) {
        auto it = restored_.find(LineId(path, line));
        if (it == restored_.end()) continue;
        state.rows.emplace_back(it->first, std::move(it->second));
        restored_.erase(it);
        // A row at the resumed line itself came from a last line without a newline.
        if (line == state.next_line && !WholeFile(options_.format)) state.partial_rows = 1;
      }
    }
  }
  for (auto& [path, state] : files_) state.rows_pending = false;
  owner_ = {};
  restored_ = {};
  wanted_ = {};
}

void FileSource::ReadHeader(const std::string& path, FileState& state) {
  std::ifstream in(path, std::ios::binary);
  std::string data(static_cast<size_t>(std::min<uint64_t>(state.offset, uint64_t{1} << 20)), '\0');
  in.read(data.data(), static_cast<std::streamsize>(data.size()));
  data.resize(static_cast<size_t>(in.gcount()));
  std::string_view rest = data;
  if (rest.substr(0, 3) == "\xEF\xBB\xBF") rest.remove_prefix(3);
  io::DsvDialect dialect{options_.delimiter, options_.quote, options_.escape, '\0'};
  while (!rest.empty() && state.header.empty()) {
    size_t end = io::DsvRecordEnd(rest, dialect);
    if (end == std::string_view::npos) end = rest.size();
    std::string_view record = rest.substr(0, end);
    if (!record.empty() && record.back() == '\n') record.remove_suffix(1);
    if (!record.empty() && record.back() == '\r') record.remove_suffix(1);
    builder_.Clear();
    (void)dsv_.Parse(record, state.header, builder_);
    rest.remove_prefix(end);
  }
}

std::vector<std::string> FileSource::ListPaths() const {
  namespace stdfs = std::filesystem;
  std::vector<std::string> paths;
  std::error_code ec;
  std::string root = options_.path;
  std::string pattern = options_.glob;
  if (!stdfs::exists(root, ec) && root.find_first_of("*?[") != std::string::npos) {
    // A path with a glob in its last part ("dir/*.csv").
    stdfs::path p(root);
    pattern = p.filename().string();
    root = p.parent_path().string();
  }
  if (stdfs::is_directory(root, ec)) {
    // Every file below the directory, in subdirectories too (as Pathway reads them).
    for (auto it = stdfs::recursive_directory_iterator(root, ec); !ec && it != stdfs::recursive_directory_iterator();
         it.increment(ec)) {
      if (!it->is_regular_file(ec)) continue;
      std::string name = it->path().filename().string();
      if (fnmatch(pattern.c_str(), name.c_str(), 0) != 0) continue;
      paths.push_back(it->path().string());
    }
  } else if (stdfs::exists(root, ec)) {
    paths.push_back(root);
  }
  std::sort(paths.begin(), paths.end());
  return paths;
}

void FileSource::StartWatch() {
  watch_started_ = true;
  namespace stdfs = std::filesystem;
  std::error_code ec;
  std::string root = options_.path;
  watch_glob_ = options_.glob;
  if (!stdfs::exists(root, ec) && root.find_first_of("*?[") != std::string::npos) {
    stdfs::path p(root);  // "dir/*.csv"
    watch_glob_ = p.filename().string();
    root = p.parent_path().string();
  }
  bool recursive = true;
  if (!stdfs::is_directory(root, ec)) {
    // A single file (that may not exist yet): its directory is watched for it.
    watch_single_file_ = true;
    recursive = false;
    root = stdfs::path(root).parent_path().string();
    if (root.empty()) root = std::filesystem::current_path(ec).string();
  }
  watch_root_ = root;
  watch_ = DirectoryWatch::Make(root, recursive);  // null: the files are polled instead
}

bool FileSource::Matches(const std::string& path) const {
  if (watch_single_file_) return std::filesystem::path(path) == std::filesystem::path(options_.path);
  std::string name = std::filesystem::path(path).filename().string();
  return fnmatch(watch_glob_.c_str(), name.c_str(), 0) == 0;
}

bool FileSource::ScanChanged(std::vector<io::Change>& out) {
  std::set<std::string> changed;
  if (!watch_->Drain(changed)) return false;
  for (const std::string& path : changed) {
    if (!Matches(path)) continue;
    std::error_code ec;
    if (std::filesystem::is_regular_file(path, ec)) {
      ReadPath(path, out);
    } else if (auto it = files_.find(path); it != files_.end()) {
      // Deleted (or moved away): retract what it contributed.
      Retract(it->second, out);
      files_.erase(it);
    }
  }
  return true;
}

void FileSource::Scan(std::vector<io::Change>& out) {
  std::vector<std::string> paths = ListPaths();
  // Deleted files: retract what they contributed.
  for (auto it = files_.begin(); it != files_.end();) {
    if (!std::binary_search(paths.begin(), paths.end(), it->first)) {
      Retract(it->second, out);
      it = files_.erase(it);
    } else {
      ++it;
    }
  }
  for (const std::string& path : paths) ReadPath(path, out);
}

void FileSource::ReadPath(const std::string& path, std::vector<io::Change>& out) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) return;
  uint64_t size = static_cast<uint64_t>(st.st_size);
  int64_t mtime = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  auto [it, inserted] = files_.try_emplace(path);
  FileState& state = it->second;
  if (state.resumed) {
    // Offsets from an earlier run: read on after them if the file still begins the same way
    // (a whole-file record: if it is the same file).
    state.resumed = false;
    bool whole = WholeFile(options_.format);
    bool same = whole ? size == state.offset && mtime == state.mtime_ns && Fingerprint(path, size) == state.fingerprint
                      : size >= state.offset && Fingerprint(path, state.offset) == state.fingerprint;
    if (!same) {
      Retract(state, out);
      state = FileState{};
    } else if (whole) {
      state.size = size;
      return;
    } else {
      RetractLast(state, state.partial_rows, out);
      state.partial_rows = 0;
      if (options_.format == Format::kCsv && options_.has_header && state.offset > 0) ReadHeader(path, state);
    }
    inserted = true;
  }
  if (!inserted && size == state.size && mtime == state.mtime_ns) return;
  bool rewritten = !inserted && (size < state.offset || WholeFile(options_.format) ||
                                 (size == state.size && mtime != state.mtime_ns) ||
                                 Fingerprint(path, state.offset) != state.fingerprint);
  if (rewritten) {
    // Rewritten: retract the old rows, read it again.
    Retract(state, out);
    state = FileState{};
  } else if (state.partial_from && size > state.size) {
    // Grown after a last line without a newline: that line is read again, with what follows.
    RetractLast(state, state.partial_rows, out);
    state.offset = *state.partial_from;
    state.next_line = state.partial_line;
    if (state.partial_header) state.header.clear();  // the line read as it stood was the header
    state.partial_from.reset();
  }
  state.size = size;
  state.mtime_ns = mtime;
  ReadFile(path, state, out);
}

void FileSource::Retract(FileState& state, std::vector<io::Change>& out) { RetractLast(state, state.rows.size(), out); }

void FileSource::RetractLast(FileState& state, size_t count, std::vector<io::Change>& out) {
  count = std::min(count, state.rows.size());
  for (size_t i = state.rows.size() - count; i < state.rows.size(); ++i) {
    auto& [key, row] = state.rows[i];
    if (!options_.primary_key.empty()) {
      // Under a primary key the row may have been replaced since: retract only if current.
      auto it = by_key_.find(key);
      if (it == by_key_.end() || !(it->second.first == row)) continue;
      by_key_.erase(it);
    }
    out.push_back({key, std::move(row), -1});
  }
  state.rows.resize(state.rows.size() - count);
}

void FileSource::Emit(const std::string& path, FileState& state, uint64_t line, Row row,
                      std::vector<io::Change>& out) {
  if (options_.with_metadata) {
    RowBuilder b;
    for (value::ValueView v : row.values()) b.Value(v);
    struct stat st {};
    int64_t created = 0;
    std::string owner;
    if (stat(path.c_str(), &st) == 0) {
      created = static_cast<int64_t>(st.st_ctim.tv_sec);
      if (struct passwd* pw = getpwuid(st.st_uid)) owner = pw->pw_name;
    }
    std::string meta = fmt::format(
        "{{\"created_at\":{},\"modified_at\":{},\"owner\":\"{}\",\"path\":\"{}\",\"seen_at\":{},\"size\":{}}}", created,
        state.mtime_ns / 1000000000, owner, path, absl::ToUnixSeconds(absl::Now()), state.size);
    if (!b.Json(meta).ok()) b.Null();
    row = b.Finish();
  }
  RowBuilder kb;
  if (!options_.primary_key.empty()) {
    for (int k : options_.primary_key) kb.Value(row[static_cast<size_t>(k)]);
  } else {
    kb.String(path).Int(static_cast<int64_t>(line));
  }
  Key key = value::IdFromValues(kb.Finish().values());
  if (!options_.primary_key.empty()) {
    if (notes_) {
      RowBuilder note;
      note.String(path);
      out.push_back({key, note.Finish(), 0});  // which file the key's row comes from
    }
    auto it = by_key_.find(key);
    if (it != by_key_.end()) {
      // An upsert: the new row replaces the old one under the same key.
      out.push_back({key, it->second.first, -1});
      it->second.first = row;
    } else {
      by_key_.emplace(key, std::pair(row, 1));
    }
  }
  // Only a watched file can be rewritten or deleted: only then keep what it contributed.
  if (options_.streaming) state.rows.emplace_back(key, row);
  out.push_back({key, std::move(row), +1});
}

bool FileSource::ParseRecord(const std::string& path, FileState& state, uint64_t line, std::string_view record,
                             std::vector<io::Change>& out) {
  RowBuilder& b = builder_;
  b.Clear();
  absl::Status status;
  switch (options_.format) {
    case Format::kCsv: {
      absl::StatusOr<io::DsvParser::Outcome> outcome = dsv_.Parse(record, state.header, b);
      if (!outcome.ok()) {
        status = outcome.status();
      } else if (*outcome == io::DsvParser::Outcome::kSkipped) {
        return true;
      }
      break;
    }
    case Format::kJson: {
      std::string_view text = record;
      while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.remove_suffix(1);
      while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) text.remove_prefix(1);
      if (text.empty()) return true;
      status = json_.Parse(text, b);
      break;
    }
    case Format::kPlaintext: {
      std::string_view text = record;
      while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.remove_suffix(1);
      status = io::ParsePlaintext(text, b);
      break;
    }
    case Format::kPlaintextByFile: {
      std::string_view text = record;
      if (!text.empty() && text.back() == '\n') text.remove_suffix(1);
      if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
      status = io::ParsePlaintext(text, b);
      break;
    }
    case Format::kBinary:
      io::ParseRaw(record, b);
      break;
    case Format::kOnlyMetadata:
      break;
  }
  if (!status.ok()) {
    Error(path, line, std::string(status.message()));
    return false;
  }
  Emit(path, state, line, b.Finish(), out);
  return true;
}

void FileSource::ReadFile(const std::string& path, FileState& state, std::vector<io::Change>& out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    // Reported once; the file is tried again at the next scan (its size and time forgotten).
    if (!state.open_failed) Error(path, fmt::format("cannot open the file: {}", std::strerror(errno)));
    state.open_failed = true;
    state.size = 0;
    state.mtime_ns = -1;
    return;
  }
  state.open_failed = false;
  in.seekg(static_cast<std::streamoff>(state.offset));
  std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  size_t bom = 0;
  if (state.offset == 0 && data.size() >= 3 && data.compare(0, 3, "\xEF\xBB\xBF") == 0) {
    bom = 3;  // a UTF-8 byte order mark is not data
  }
  if (WholeFile(options_.format)) {
    ParseRecord(path, state, 1, data, out);
    state.offset = state.offset + data.size();
    state.fingerprint = Fingerprint(path, state.offset);
    return;
  }
  // Only CSV records may span lines (a newline inside quotes).
  io::DsvDialect dialect{options_.delimiter, options_.format == Format::kCsv ? options_.quote : '\0',
                         options_.format == Format::kCsv ? options_.escape : '\0', '\0'};
  std::string_view rest = std::string_view(data).substr(bom);
  size_t consumed = bom;
  while (!rest.empty()) {
    size_t end = io::DsvRecordEnd(rest, dialect);
    if (end == std::string_view::npos) {
      // A last record without its newline (or with a quote still open) is read as it stands.
      // When the file is watched, it is remembered: if the file grows, it is read again.
      end = rest.size();
      {
        state.partial_from = state.offset + consumed;
        state.partial_fingerprint = Fingerprint(path, *state.partial_from);
        state.partial_line = state.next_line;
        state.partial_header = state.header.empty();
        size_t before = state.rows.size();
        std::string_view record = rest;
        if (!record.empty() && record.back() == '\r') record.remove_suffix(1);
        ParseRecord(path, state, state.next_line, record, out);
        state.partial_rows = state.rows.size() - before;
        state.next_line += 1 + static_cast<uint64_t>(std::count(record.begin(), record.end(), '\n'));
        consumed += end;
        break;
      }
    }
    std::string_view record = rest.substr(0, end);
    uint64_t lines = static_cast<uint64_t>(std::count(record.begin(), record.end(), '\n'));
    if (!record.empty() && record.back() == '\n') record.remove_suffix(1);
    ParseRecord(path, state, state.next_line, record, out);
    state.next_line += std::max<uint64_t>(lines, 1);
    consumed += end;
    rest.remove_prefix(end);
  }
  state.offset += consumed;
  state.fingerprint = Fingerprint(path, state.offset);
}

uint64_t FileSource::Fingerprint(const std::string& path, uint64_t consumed) {
  constexpr uint64_t kEdge = 4096;
  std::ifstream in(path, std::ios::binary);
  std::string bytes(static_cast<size_t>(std::min(consumed, kEdge)), '\0');
  in.read(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (consumed > kEdge) {
    std::string tail(static_cast<size_t>(std::min(consumed - kEdge, kEdge)), '\0');
    in.seekg(static_cast<std::streamoff>(consumed - tail.size()));
    in.read(tail.data(), static_cast<std::streamsize>(tail.size()));
    bytes += tail;
  }
  if (!in && !in.eof()) return 0;
  return value::StableHash128(bytes.data(), bytes.size()).low();
}

}  // namespace deltaflow::connectors::fs
