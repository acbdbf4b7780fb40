#include "deltaflow/persist/checkpoint.h"

#include <algorithm>
#include <random>
#include <set>

#include "absl/time/clock.h"

#include "absl/container/flat_hash_map.h"
#include "deltaflow/runtime/codec.h"
#include "deltaflow/value/key.h"
#include "fmt/format.h"

namespace deltaflow::persist {

namespace {

using runtime::Codec;

constexpr std::string_view kManifestMagic = "deltaflow checkpoint 1\n";
constexpr const char* kManifestObject = "manifest";
// A log outgrows what it holds when its committed bytes pass this many times its size after
// the last compaction (and the minimum the run was opened with).
constexpr uint64_t kCompactGrowth = 2;

uint64_t Checksum(std::string_view bytes) { return value::StableHash128(bytes.data(), bytes.size()).low(); }

template <typename T>
void Put(const T& value, std::string& out) {
  Codec<T>::Encode(value, out);
}

template <typename T>
bool Get(const char*& p, const char* end, T& value) {
  return Codec<T>::Decode(p, end, value);
}

std::string SourceDirectory(const std::string& name) {
  return fmt::format("sources/{:016x}/", Checksum(name));
}

}  // namespace

std::string EncodeManifest(const Manifest& m) {
  std::string payload;
  Put<uint64_t>(m.id, payload);
  Put<uint64_t>(m.generation, payload);
  Put<uint64_t>(m.frontier, payload);
  Put<uint64_t>(m.last_time, payload);
  Put<uint8_t>(m.clean_stop ? 1 : 0, payload);
  Put<uint32_t>(static_cast<uint32_t>(m.sources.size()), payload);
  for (const SourceRecord& s : m.sources) {
    Put(s.name, payload);
    Put<uint32_t>(s.arity, payload);
    Put<uint32_t>(static_cast<uint32_t>(s.segments.size()), payload);
    for (const Segment& seg : s.segments) {
      Put(seg.object, payload);
      Put<uint64_t>(seg.committed, payload);
    }
    Put<uint64_t>(s.compacted_bytes, payload);
    Put<uint32_t>(static_cast<uint32_t>(s.offsets.size()), payload);
    for (const auto& [partition, offset] : s.offsets) {
      Put(partition, payload);
      Put<uint64_t>(offset.position, payload);
      Put<uint64_t>(offset.sequence, payload);
      Put<uint64_t>(offset.fingerprint, payload);
      Put(offset.opaque, payload);
    }
  }
  Put<uint32_t>(static_cast<uint32_t>(m.sinks.size()), payload);
  for (const SinkRecord& s : m.sinks) {
    Put(s.name, payload);
    Put(s.position, payload);
  }
  std::string out(kManifestMagic);
  Put<uint64_t>(Checksum(payload), out);
  out += payload;
  return out;
}

absl::StatusOr<Manifest> DecodeManifest(std::string_view bytes, const std::string& where) {
  auto damaged = [&](std::string_view why) {
    return absl::DataLossError(
        fmt::format("the persisted state is damaged: {}: {}; remove the persistence directory to start afresh", where, why));
  };
  if (bytes.substr(0, kManifestMagic.size()) != kManifestMagic) return damaged("not a deltaflow checkpoint");
  const char* p = bytes.data() + kManifestMagic.size();
  const char* end = bytes.data() + bytes.size();
  uint64_t checksum = 0;
  if (!Get(p, end, checksum)) return damaged("truncated");
  if (Checksum(std::string_view(p, static_cast<size_t>(end - p))) != checksum) return damaged("checksum mismatch");
  Manifest m;
  uint8_t clean = 0;
  uint32_t n = 0;
  bool ok = Get(p, end, m.id) && Get(p, end, m.generation) && Get(p, end, m.frontier) && Get(p, end, m.last_time) && Get(p, end, clean) &&
            Get(p, end, n);
  m.clean_stop = clean != 0;
  for (uint32_t i = 0; ok && i < n; ++i) {
    SourceRecord s;
    uint32_t segments = 0;
    ok = Get(p, end, s.name) && Get(p, end, s.arity) && Get(p, end, segments);
    for (uint32_t k = 0; ok && k < segments; ++k) {
      Segment seg;
      ok = Get(p, end, seg.object) && Get(p, end, seg.committed);
      s.committed_bytes += seg.committed;
      s.segments.push_back(std::move(seg));
    }
    uint32_t offsets = 0;
    ok = ok && Get(p, end, s.compacted_bytes) && Get(p, end, offsets);
    for (uint32_t k = 0; ok && k < offsets; ++k) {
      std::string partition;
      io::Offset offset;
      ok = Get(p, end, partition) && Get(p, end, offset.position) && Get(p, end, offset.sequence) &&
           Get(p, end, offset.fingerprint) && Get(p, end, offset.opaque);
      s.offsets.emplace(std::move(partition), std::move(offset));
    }
    m.sources.push_back(std::move(s));
  }
  ok = ok && Get(p, end, n);
  for (uint32_t i = 0; ok && i < n; ++i) {
    SinkRecord s;
    ok = Get(p, end, s.name) && Get(p, end, s.position);
    m.sinks.push_back(std::move(s));
  }
  if (!ok || p != end) return damaged("malformed");
  return m;
}

absl::Status AppendLogRecord(Time time, const std::vector<io::Change>& changes, std::string& out) {
  size_t start = out.size();
  Put<uint32_t>(0, out);  // payload length, set below
  Put<uint64_t>(0, out);  // checksum, set below
  size_t payload = out.size();
  Put<uint64_t>(time, out);
  Put<uint32_t>(static_cast<uint32_t>(changes.size()), out);
  for (const io::Change& c : changes) {
    if (c.row.has_objects()) {
      out.resize(start);
      return absl::InvalidArgumentError(
          "a row holds a Python object, which persistence cannot store; give the column a serialisable type");
    }
    Put(c.id, out);
    Put(c.row, out);
    uint64_t diff = static_cast<uint64_t>(c.diff);
    runtime::codec_internal::PutVarint((diff << 1) ^ static_cast<uint64_t>(c.diff >> 63), out);  // zigzag
  }
  uint32_t length = static_cast<uint32_t>(out.size() - payload);
  uint64_t checksum = Checksum(std::string_view(out).substr(payload));
  std::memcpy(out.data() + start, &length, sizeof length);
  std::memcpy(out.data() + start + sizeof length, &checksum, sizeof checksum);
  return absl::OkStatus();
}

absl::Status ReadLogRecords(std::string_view bytes, uint64_t committed, const std::string& where,
                            std::vector<LoggedBatch>& out, uint64_t base) {
  if (bytes.size() < committed) {
    return absl::DataLossError(fmt::format(
        "the persisted state is damaged: {} holds {} bytes but the checkpoint recorded {}; remove the persistence "
        "directory to start afresh",
        where, bytes.size(), committed));
  }
  const char* begin = bytes.data();
  const char* p = begin;
  const char* end = begin + committed;
  while (p < end) {
    auto damaged = [&](std::string_view why) {
      return absl::DataLossError(fmt::format(
          "the persisted state is damaged: {} at byte {}: {}; remove the persistence directory to start afresh", where,
          base + static_cast<uint64_t>(p - begin), why));
    };
    const char* record = p;
    uint32_t length = 0;
    uint64_t checksum = 0;
    if (!Get(p, end, length) || !Get(p, end, checksum) || static_cast<uint64_t>(end - p) < length) {
      p = record;
      return damaged("truncated record");
    }
    std::string_view payload(p, length);
    if (Checksum(payload) != checksum) {
      p = record;
      return damaged("checksum mismatch");
    }
    const char* q = payload.data();
    const char* qend = q + payload.size();
    LoggedBatch batch;
    uint32_t count = 0;
    bool ok = Get(q, qend, batch.time) && Get(q, qend, count);
    batch.changes.reserve(ok ? std::min<size_t>(count, payload.size() / 16) : 0);
    for (uint32_t i = 0; ok && i < count; ++i) {
      io::Change c;
      uint64_t diff = 0;
      ok = Get(q, qend, c.id) && Get(q, qend, c.row) && runtime::codec_internal::GetVarint(q, qend, diff);
      c.diff = static_cast<int64_t>(diff >> 1) ^ -static_cast<int64_t>(diff & 1);
      batch.changes.push_back(std::move(c));
    }
    if (!ok || q != qend) {
      p = record;
      return damaged("malformed record");
    }
    out.push_back(std::move(batch));
    p += length;
  }
  return absl::OkStatus();
}

absl::StatusOr<bool> LogCursor::Next(LoggedBatch& out) {
  constexpr uint64_t kWindow = uint64_t{8} << 20;
  while (next_decoded_ >= decoded_.size()) {
    decoded_.clear();
    next_decoded_ = 0;
    if (segment_ >= segments_.size()) return false;
    const Segment& seg = segments_[segment_];
    uint64_t at = offset_ + position_;  // the first byte not decoded yet
    if (at >= seg.committed) {
      ++segment_;
      offset_ = position_ = 0;
      window_.clear();
      continue;
    }
    // A window from `at`, grown until it holds at least one whole record.
    uint64_t want = std::min(kWindow, seg.committed - at);
    while (true) {
      absl::StatusOr<std::string> bytes = store_->ReadRange(seg.object, at, want);
      if (!bytes.ok()) return bytes.status();
      if (bytes->size() < want) {
        return absl::DataLossError(fmt::format(
            "the persisted state is damaged: {} holds fewer bytes than the checkpoint recorded ({}); remove the "
            "persistence directory to start afresh",
            store_->Describe(seg.object), seg.committed));
      }
      window_ = std::move(*bytes);
      offset_ = at;
      // Decode the whole records in the window.
      std::string_view view(window_);
      size_t whole = 0;
      while (whole + 12 <= view.size()) {
        uint32_t length = 0;
        std::memcpy(&length, view.data() + whole, sizeof length);
        if (whole + 12 + length > view.size()) break;
        whole += 12 + length;
      }
      if (whole == 0 && want < seg.committed - at) {
        want = std::min(seg.committed - at, want * 2);  // a record larger than the window
        continue;
      }
      if (whole == 0) whole = view.size();  // a truncated last record: reported by the decoder
      if (absl::Status s = ReadLogRecords(view.substr(0, whole), whole, store_->Describe(seg.object), decoded_, at);
          !s.ok()) {
        return s;
      }
      position_ = whole;
      break;
    }
  }
  out = std::move(decoded_[next_decoded_++]);
  return true;
}

absl::StatusOr<std::unique_ptr<RunPersistence>> RunPersistence::Open(std::shared_ptr<Store> store,
                                                                     std::vector<SourceSpec> sources,
                                                                     std::vector<std::string> sinks,
                                                                     uint64_t compact_min_bytes) {
  std::set<std::string> names;
  for (const SourceSpec& s : sources) {
    if (!names.insert(s.name).second) {
      return absl::InvalidArgumentError(fmt::format(
          "two inputs are named {:?}: with persistence every input needs a name of its own (name=...)", s.name));
    }
  }
  absl::StatusOr<std::optional<std::string>> bytes = store->Read(kManifestObject);
  if (!bytes.ok()) return bytes.status();
  Manifest previous;
  bool recovered = bytes->has_value();
  if (recovered) {
    absl::StatusOr<Manifest> decoded = DecodeManifest(**bytes, store->Describe(kManifestObject));
    if (!decoded.ok()) return decoded.status();
    previous = std::move(*decoded);
  }
  Manifest current;
  current.id = previous.id;
  if (current.id == 0) {
    std::random_device random;
    current.id = (uint64_t{random()} << 32) ^ random() ^ static_cast<uint64_t>(absl::GetCurrentTimeNanos());
  }
  current.generation = previous.generation + 1;
  current.frontier = previous.frontier;
  current.last_time = previous.last_time;
  for (const SourceSpec& spec : sources) {
    auto it = std::find_if(previous.sources.begin(), previous.sources.end(),
                           [&](const SourceRecord& r) { return r.name == spec.name; });
    if (it == previous.sources.end()) {
      current.sources.push_back(SourceRecord{spec.name, spec.arity, {}, {}, 0, 0});
      continue;
    }
    if (it->arity != spec.arity) {
      return absl::FailedPreconditionError(fmt::format(
          "the input {:?} had {} columns when its state was persisted and has {} now: the persisted state cannot be "
          "used (give the changed input another name, or remove {})",
          spec.name, it->arity, spec.arity, store->Describe(kManifestObject)));
    }
    current.sources.push_back(*it);
  }
  // Inputs of the earlier run that this one does not read keep their state for a later run.
  for (const SourceRecord& r : previous.sources) {
    if (!names.count(r.name)) current.sources.push_back(r);
  }
  for (std::string& sink : sinks) {
    auto it = std::find_if(previous.sinks.begin(), previous.sinks.end(),
                           [&](const SinkRecord& r) { return r.name == sink; });
    current.sinks.push_back(SinkRecord{std::move(sink), it == previous.sinks.end() ? std::string() : it->position});
  }
  auto run = std::unique_ptr<RunPersistence>(
      new RunPersistence(std::move(store), std::move(previous), std::move(current), recovered));
  run->logs_.resize(sources.size());
  run->compact_min_bytes_ = compact_min_bytes;
  return run;
}

absl::StatusOr<std::vector<LoggedBatch>> RunPersistence::ReadReplay(size_t source) const {
  std::vector<LoggedBatch> batches;
  for (const Segment& seg : current_.sources[source].segments) {
    if (seg.committed == 0) continue;
    absl::StatusOr<std::optional<std::string>> bytes = store_->Read(seg.object);
    if (!bytes.ok()) return bytes.status();
    if (!bytes->has_value()) {
      return absl::DataLossError(fmt::format(
          "the persisted state is damaged: {} is missing; remove the persistence directory to start afresh",
          store_->Describe(seg.object)));
    }
    if (absl::Status s = ReadLogRecords(**bytes, seg.committed, store_->Describe(seg.object), batches); !s.ok()) {
      return s;
    }
  }
  return batches;
}

const std::string* RunPersistence::sink_position(size_t sink) const {
  const std::string& position = current_.sinks[sink].position;
  if (!after_crash() || position.empty()) return nullptr;
  return &position;
}

std::string RunPersistence::SinkIdentity(size_t sink) const {
  return fmt::format("{:016x}-{:016x}", current_.id, Checksum(current_.sinks[sink].name));
}

absl::Status RunPersistence::StartLogs() {
  for (size_t i = 0; i < logs_.size(); ++i) {
    SourceRecord& record = current_.sources[i];
    std::string dir = SourceDirectory(record.name);
    // Segments no checkpoint refers to (written after the last one of a crashed run) go.
    absl::StatusOr<std::vector<std::string>> objects = store_->List(dir);
    if (!objects.ok()) return objects.status();
    for (const std::string& object : *objects) {
      bool used = std::any_of(record.segments.begin(), record.segments.end(),
                              [&](const Segment& s) { return s.object == object; });
      if (!used) {
        if (absl::Status s = store_->Remove(object); !s.ok()) return s;
      }
    }
    std::string object = fmt::format("{}{}-{}.log", dir, current_.generation, next_segment_++);
    absl::StatusOr<std::unique_ptr<Appender>> appender = store_->OpenAppend(object, 0);
    if (!appender.ok()) return appender.status();
    logs_[i].appender = std::move(*appender);
    record.segments.push_back(Segment{object, 0});
  }
  return absl::OkStatus();
}

absl::Status RunPersistence::Log(size_t source, Time time, const std::vector<io::Change>& changes) {
  ActiveLog& log = logs_[source];
  scratch_.clear();
  if (absl::Status s = AppendLogRecord(time, changes, scratch_); !s.ok()) {
    return absl::Status(s.code(), fmt::format("input {:?}: {}", current_.sources[source].name, std::string(s.message())));
  }
  if (absl::Status s = log.appender->Append(scratch_); !s.ok()) return s;
  if (!log.sizes.empty() && log.sizes.back().first == time) {
    log.sizes.back().second = log.appender->size();
  } else {
    log.sizes.emplace_back(time, log.appender->size());
  }
  SourceRecord& record = current_.sources[source];
  record.logged_changes += changes.size();
  for (const io::Change& c : changes) record.logged_retractions += c.diff < 0 ? 1 : 0;
  return absl::OkStatus();
}

absl::Status RunPersistence::Checkpoint(Time frontier, Time last_time,
                                        const std::vector<std::optional<io::Offsets>>& offsets,
                                        const std::vector<std::string>& positions, bool clean_stop) {
  std::vector<std::string> retired;
  for (size_t i = 0; i < logs_.size(); ++i) {
    ActiveLog& log = logs_[i];
    SourceRecord& record = current_.sources[i];
    std::optional<uint64_t> committed;
    while (!log.sizes.empty() && log.sizes.front().first < frontier) {
      committed = log.sizes.front().second;
      log.sizes.pop_front();
    }
    if (committed) {
      if (absl::Status s = log.appender->Sync(); !s.ok()) return s;
      Segment& active = record.segments.back();
      record.committed_bytes += *committed - active.committed;
      active.committed = *committed;
    }
    if (i < offsets.size() && offsets[i]) record.offsets = *offsets[i];
    bool shrinks = record.logged_retractions * 4 >= record.logged_changes && record.logged_retractions > 0;
    if (shrinks && record.committed_bytes > compact_min_bytes_ &&
        record.committed_bytes > kCompactGrowth * record.compacted_bytes) {
      std::vector<std::string> old;
      for (const Segment& s : record.segments) old.push_back(s.object);
      if (absl::Status s = Compact(i, current_.frontier); !s.ok()) return s;
      retired.insert(retired.end(), old.begin(), old.end());
    }
  }
  for (size_t o = 0; o < positions.size(); ++o) current_.sinks[o].position = positions[o];
  current_.frontier = frontier;
  current_.last_time = last_time;
  current_.clean_stop = clean_stop;
  if (absl::Status s = store_->WriteAtomic(kManifestObject, EncodeManifest(current_)); !s.ok()) return s;
  for (const std::string& object : retired) {
    if (absl::Status s = store_->Remove(object); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status RunPersistence::Compact(size_t source, Time cut) {
  SourceRecord& record = current_.sources[source];
  ActiveLog& log = logs_[source];
  absl::StatusOr<std::vector<LoggedBatch>> batches = ReadReplay(source);
  if (!batches.ok()) return batches.status();
  // Consolidate the times before `cut`: the net multiplicity of every (id, row).
  absl::flat_hash_map<std::pair<value::Key, value::Row>, int64_t> net;
  Time latest = 0;
  size_t consolidated = 0;
  for (LoggedBatch& batch : *batches) {
    if (batch.time >= cut) break;
    ++consolidated;
    latest = std::max(latest, batch.time);
    for (io::Change& c : batch.changes) {
      auto [it, inserted] = net.try_emplace(std::pair(c.id, std::move(c.row)), c.diff);
      if (!inserted) it->second += c.diff;
    }
  }
  std::vector<io::Change> live;
  live.reserve(net.size());
  for (auto& [data, diff] : net) {
    if (diff != 0) live.push_back({data.first, data.second, diff});
  }
  net.clear();
  std::sort(live.begin(), live.end(), [](const io::Change& a, const io::Change& b) {
    return a.diff != b.diff ? a.diff < b.diff : a.id < b.id;
  });
  std::string snapshot;
  if (!live.empty()) {
    if (absl::Status s = AppendLogRecord(latest, live, snapshot); !s.ok()) return s;
  }
  // The times of the last checkpoint interval stay as they were: an output that commits on
  // its own may need them again exactly (RunPersistence's users: io::Sink::CommittedFrontier).
  for (size_t k = consolidated; k < batches->size(); ++k) {
    if (absl::Status s = AppendLogRecord((*batches)[k].time, (*batches)[k].changes, snapshot); !s.ok()) return s;
  }
  batches->clear();
  std::string dir = SourceDirectory(record.name);
  std::string snapshot_object = fmt::format("{}{}-{}.log", dir, current_.generation, next_segment_++);
  if (absl::Status s = store_->WriteAtomic(snapshot_object, snapshot); !s.ok()) return s;
  // What was logged after the checkpoint moves to a new active segment.
  Segment& active = record.segments.back();
  if (absl::Status s = log.appender->Sync(); !s.ok()) return s;
  absl::StatusOr<std::optional<std::string>> active_bytes = store_->Read(active.object);
  if (!active_bytes.ok()) return active_bytes.status();
  std::string tail = active_bytes->value_or(std::string()).substr(active.committed);
  std::string active_object = fmt::format("{}{}-{}.log", dir, current_.generation, next_segment_++);
  absl::StatusOr<std::unique_ptr<Appender>> appender = store_->OpenAppend(active_object, 0);
  if (!appender.ok()) return appender.status();
  if (absl::Status s = (*appender)->Append(tail); !s.ok()) return s;
  for (auto& [time, size] : log.sizes) size -= active.committed;
  log.appender = std::move(*appender);
  record.segments = {Segment{snapshot_object, snapshot.size()}, Segment{active_object, 0}};
  record.committed_bytes = snapshot.size();
  record.compacted_bytes = snapshot.size();
  record.logged_changes = 0;
  record.logged_retractions = 0;
  return absl::OkStatus();
}

}  // namespace deltaflow::persist
