// Communication between the workers of a dataflow: exchange channels and wake-ups.
//
// Every worker builds the same dataflow graph, in the same order, so the n-th channel a
// worker allocates is the n-th channel of every other worker too: channels are identified by
// that number. A channel carries items of one type from any worker to any worker; each
// receiver reads the items sent to it in the order each sender sent them (per-sender FIFO),
// which is what progress tracking needs (a sender's message counts must not overtake the
// capability changes they offset).
//
// `ExchangeChannel` is an interface: today's implementation moves items between threads of
// one process; a network transport for several processes implements the same interface,
// serialising items (rows already have a canonical byte encoding) — DESIGN.md, "Scale-out".
//
// Sending to a worker wakes it (through the waker the runtime installs), so a worker with
// nothing to do is not scheduled until something arrives.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <typeindex>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "deltaflow/base/check.h"
#include "deltaflow/runtime/codec.h"

namespace deltaflow::runtime {

/// Moves items of type `P` between workers. All methods are thread-safe.
template <typename P>
class ExchangeChannel {
 public:
  virtual ~ExchangeChannel() = default;
  /// Sends `item` to worker `to`, waking it.
  virtual void Send(uint32_t to, P item) = 0;
  /// Appends the items sent to `worker` since the last call to `out`; returns whether any.
  virtual bool Receive(uint32_t worker, std::vector<P>& out) = 0;
  /// True if items for `worker` are waiting (a cheap, possibly stale hint).
  virtual bool HasPending(uint32_t worker) const = 0;
};

/// Wakes workers: installed by the runtime that schedules them.
class Waker {
 public:
  virtual ~Waker() = default;
  /// Makes sure worker `worker` runs a step soon. Thread-safe; cheap when already scheduled.
  virtual void Wake(uint32_t worker) = 0;
};

/// Channels between the threads of one process: one mutex-protected mailbox per receiver.
template <typename P>
class InProcessChannel final : public ExchangeChannel<P> {
 public:
  InProcessChannel(uint32_t peers, Waker* waker) : mailboxes_(peers), waker_(waker) {}

  void Send(uint32_t to, P item) override {
    Mailbox& box = mailboxes_[to];
    {
      std::lock_guard<std::mutex> lock(box.mutex);
      box.items.push_back(std::move(item));
      box.pending.store(true, std::memory_order_release);
    }
    if (waker_ != nullptr) waker_->Wake(to);
  }

  bool Receive(uint32_t worker, std::vector<P>& out) override {
    Mailbox& box = mailboxes_[worker];
    if (!box.pending.load(std::memory_order_acquire)) return false;
    std::lock_guard<std::mutex> lock(box.mutex);
    bool any = !box.items.empty();
    for (P& item : box.items) out.push_back(std::move(item));
    box.items.clear();
    box.pending.store(false, std::memory_order_release);
    return any;
  }

  bool HasPending(uint32_t worker) const override {
    return mailboxes_[worker].pending.load(std::memory_order_acquire);
  }

 private:
  struct Mailbox {
    std::mutex mutex;
    std::vector<P> items;
    std::atomic<bool> pending{false};
  };
  std::vector<Mailbox> mailboxes_;
  Waker* waker_;
};

/// A channel that moves items as bytes (`Codec<P>`), as a transport between processes must:
/// every item is encoded on `Send` and decoded — and checked — on `Receive`. In one process it
/// proves the encoding end to end (the tests run dataflows over it).
template <Encodable P>
class SerializingChannel final : public ExchangeChannel<P> {
 public:
  SerializingChannel(uint32_t peers, Waker* waker) : bytes_(peers, waker) {}

  void Send(uint32_t to, P item) override { bytes_.Send(to, EncodeToBytes(item)); }

  bool Receive(uint32_t worker, std::vector<P>& out) override {
    std::vector<std::string> raw;
    if (!bytes_.Receive(worker, raw)) return false;
    for (const std::string& bytes : raw) {
      P item;
      DELTAFLOW_CHECK(DecodeFromBytes(bytes, item), "exchange channel: malformed message bytes");
      out.push_back(std::move(item));
    }
    return true;
  }

  bool HasPending(uint32_t worker) const override { return bytes_.HasPending(worker); }

 private:
  InProcessChannel<std::string> bytes_;
};

/// The channels shared by the workers of one process, by channel number.
class Communicator {
 public:
  /// `serialize`: move every item as bytes through its `Codec` (the encoding a transport
  /// between processes uses), instead of moving C++ objects.
  explicit Communicator(uint32_t peers, Waker* waker = nullptr, bool serialize = false)
      : peers_(peers), waker_(waker), serialize_(serialize) {}
  Communicator(const Communicator&) = delete;
  Communicator& operator=(const Communicator&) = delete;

  uint32_t peers() const { return peers_; }
  Waker* waker() const { return waker_; }
  void SetWaker(Waker* waker) { waker_ = waker; }

  /// The channel number `id` carrying `P`, created by whichever worker asks first. It is an
  /// error to ask for one number with two different item types (the workers' graphs differ).
  template <typename P>
  std::shared_ptr<ExchangeChannel<P>> Channel(uint64_t id) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto [it, inserted] = channels_.try_emplace(id);
    if (inserted) {
      it->second.type = std::type_index(typeid(P));
      if constexpr (Encodable<P>) {
        if (serialize_) {
          it->second.channel = std::make_shared<SerializingChannel<P>>(peers_, waker_);
        } else {
          it->second.channel = std::make_shared<InProcessChannel<P>>(peers_, waker_);
        }
      } else {
        DELTAFLOW_CHECK(!serialize_, "a channel's items have no byte encoding (Codec)");
        it->second.channel = std::make_shared<InProcessChannel<P>>(peers_, waker_);
      }
    }
    DELTAFLOW_CHECK(it->second.type == std::type_index(typeid(P)),
                    "workers built different dataflows: a channel number has two item types");
    return std::static_pointer_cast<ExchangeChannel<P>>(it->second.channel);
  }

 private:
  struct Entry {
    std::type_index type = std::type_index(typeid(void));
    std::shared_ptr<void> channel;
  };
  uint32_t peers_;
  Waker* waker_;
  bool serialize_;
  std::mutex mutex_;
  absl::flat_hash_map<uint64_t, Entry> channels_;
};

}  // namespace deltaflow::runtime
