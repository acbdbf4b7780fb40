// File sources: CSV, JSON lines, plaintext and binary files, read once or watched.
//
// A `FileSource` reads a file or every file of a directory (matching a glob) and turns each
// record into a row typed by the source's columns. In static mode it reads everything once
// and finishes; in streaming mode it keeps watching: a new file is read, lines appended to a
// file arrive as they are written, and a file that is rewritten or deleted has its old rows
// retracted (and its new content read). A last line without a newline is read as it stands;
// if the file then grows, that line's rows are retracted and it is read again. A file that
// cannot be opened is reported (with the system's reason) and tried again until it can. Parsing is the IO layer's
// (deltaflow/io/parse.h): DSV for CSV, simdjson for JSON lines, validated UTF-8 for text.
//
// A record that cannot be parsed (a malformed CSV line, invalid JSON, text that is not UTF-8,
// a value that does not fit its column's type) is skipped and reported with its file, line
// and reason through `DrainErrors`; the source goes on.
//
// Watching: the source learns which files changed from the kernel (inotify), so idle files
// cost nothing; it still looks at every file every 10 seconds (and when the kernel's queue
// overflowed), and polls every `refresh_ms` where inotify is missing.
//
// Offsets: one per file read, its path as the partition: `position` is the bytes consumed
// (up to the start of a last line without a newline), `sequence` the number of the line there,
// `fingerprint` a hash of those bytes' first and last 4 KiB, `opaque` the file's modification
// time (and "partial" when the line at `sequence` had no newline). A restarted source (persistence) is given the rows it produced (`Restore`) and its
// offsets (`Seek`): a file that still begins with the same bytes is read on after its offset
// (a last line without a newline is read again); a file rewritten or deleted while the
// pipeline was down has its old rows retracted (and its new content read), in static mode
// too. Under a primary key, a persisted source notes which file each row came from (a note,
// io/source.h), so that those rows can be told from other files' rows.
//
// Threading: the `io::Source` contract; the source reads on the driving thread only.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "deltaflow/io/parse.h"
#include "deltaflow/io/source.h"
#include "deltaflow/value/row.h"

namespace deltaflow::connectors::fs {

class DirectoryWatch;

using io::Column;
using io::ColumnType;

enum class Format : uint8_t { kCsv, kJson, kPlaintext, kPlaintextByFile, kBinary, kOnlyMetadata };

struct FileSourceOptions {
  std::string path;
  Format format = Format::kCsv;
  bool streaming = false;
  std::vector<Column> columns;
  std::vector<int> primary_key;        // column positions; empty: ids from file and position
  bool with_metadata = false;          // append a `_metadata` Json column
  std::string glob = "*";              // files of a directory to read
  char delimiter = ',';
  char quote = '"';
  char escape = '\0';                 // a character that makes the next one literal ('\0': none)
  char comment = '\0';                // lines starting with it are skipped ('\0': none)
  std::map<std::string, std::string> json_paths;  // column -> JSON pointer ("/a/b") into each line
  bool has_header = true;
  std::string name = "file source";    // for error messages
  int refresh_ms = 50;                 // streaming without inotify: how often the files are checked
};

/// Reads files into table rows; see the file comment.
class FileSource final : public io::Source {
 public:
  static absl::StatusOr<std::unique_ptr<FileSource>> Make(FileSourceOptions options);

  ~FileSource() override;

  absl::StatusOr<io::PollResult> Poll(std::vector<io::Change>& out, size_t max_rows) override;
  io::Offsets CurrentOffsets() const override;
  absl::Status Seek(const io::Offsets& offsets) override;
  void Restore(const std::vector<io::Change>& batch) override;
  void OnPersisted() override { notes_ = true; }
  void DrainErrors(std::vector<io::SourceError>& errors) override;

 private:
  explicit FileSource(FileSourceOptions options);

  struct FileState {
    uint64_t size = 0;
    int64_t mtime_ns = 0;
    uint64_t offset = 0;      // bytes consumed (up to the last complete line)
    uint64_t fingerprint = 0; // of the consumed bytes' first and last 4 KiB: tells appends from rewrites
    uint64_t next_line = 1;   // line number of the next record
    bool resumed = false;     // offset restored by Seek: check the fingerprint before reading on
    bool rows_pending = false;  // resumed: its rows are rebuilt from the replay (FinishRestore)
    bool open_failed = false; // the last attempt to open it failed (reported once, retried)
    // Streaming: the file's last record had no newline yet. It was read as it stood; when the
    // file grows, its rows are retracted and it is read again from `partial_from`.
    std::optional<uint64_t> partial_from;
    uint64_t partial_line = 0;
    uint64_t partial_fingerprint = 0;  // of the bytes before `partial_from`
    bool partial_header = false;  // the file had no header before that line
    size_t partial_rows = 0;  // the last entries of `rows`
    std::vector<std::string> header;  // CSV: the file's header
    std::vector<std::pair<value::Key, value::Row>> rows;  // what this file contributed
  };

  void Scan(std::vector<io::Change>& out);
  // Streaming with a watch: reads the files the kernel said changed. False when everything
  // must be scanned instead.
  bool ScanChanged(std::vector<io::Change>& out);
  // The directory watched for `options_.path`, its file-name pattern, and whether it is
  // watched with its subdirectories.
  void StartWatch();
  bool Matches(const std::string& path) const;
  // The files the path names now (a file, or every matching file below a directory), sorted.
  std::vector<std::string> ListPaths() const;
  // Reads what is new in one file (all of it the first time; retracts and rereads it when
  // rewritten).
  void ReadPath(const std::string& path, std::vector<io::Change>& out);
  void ReadFile(const std::string& path, FileState& state, std::vector<io::Change>& out);
  void Retract(FileState& state, std::vector<io::Change>& out);
  // Retracts the last `count` rows the file contributed.
  void RetractLast(FileState& state, size_t count, std::vector<io::Change>& out);
  void Emit(const std::string& path, FileState& state, uint64_t line, value::Row row, std::vector<io::Change>& out);
  bool ParseRecord(const std::string& path, FileState& state, uint64_t line, std::string_view record,
                   std::vector<io::Change>& out);
  void Error(const std::string& path, uint64_t line, std::string_view reason);
  void Error(const std::string& path, std::string_view reason);
  // Whether a resumed file still holds what its offset says was read.
  bool Unchanged(const std::string& path, const FileState& state) const;
  // After the replay (at the first poll): the rows of the files that need them.
  void FinishRestore();
  // A resumed CSV file read on after its offset: its header, from its first record.
  void ReadHeader(const std::string& path, FileState& state);
  // The id of a row read from line `line` of `path` without a primary key.
  static value::Key LineId(const std::string& path, uint64_t line);
  static uint64_t Fingerprint(const std::string& path, uint64_t consumed);

  FileSourceOptions options_;
  io::DsvParser dsv_;
  io::JsonParser json_;
  value::RowBuilder builder_;
  std::map<std::string, FileState> files_;
  absl::flat_hash_map<value::Key, std::pair<value::Row, int64_t>> by_key_;  // live rows, for primary-key upserts
  // The replay, until the first poll: without a primary key, the ids of the rows of files that
  // need them (Seek) and those rows (Restore); under one, the file of each key (the notes).
  absl::flat_hash_set<value::Key> wanted_;
  absl::flat_hash_map<value::Key, value::Row> restored_;
  absl::flat_hash_map<value::Key, std::string> owner_;
  bool restore_finished_ = false;
  bool notes_ = false;  // persisted: under a primary key, note which file each row came from
  std::vector<io::SourceError> errors_;
  bool done_ = false;
  // Static mode: the files still to read, one per poll (each file is its own commit).
  std::optional<std::vector<std::string>> static_paths_;
  size_t static_next_ = 0;
  int64_t last_scan_ns_ = 0;
  std::unique_ptr<DirectoryWatch> watch_;  // streaming: inotify, when the system has it
  bool watch_started_ = false;
  std::string watch_root_;   // the directory the path names (or the file's directory)
  std::string watch_glob_;   // the pattern of file names read there
  bool watch_single_file_ = false;
};

}  // namespace deltaflow::connectors::fs
