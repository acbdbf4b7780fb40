// Updates, messages and the ports that carry them between operators of one worker.
//
// An update `(data, time, diff)` says that `data`'s multiplicity changes by `diff` at `time`.
// Operators exchange updates in messages; a message is sent at a capability time and the
// updates inside carry times at or after it. An `OutputPort` fans a message out to the
// `InputPort`s connected to it; each input port queues messages for its operator and accounts
// for them in progress tracking until the operator consumes them.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <typeindex>
#include <utility>
#include <vector>

#include "deltaflow/runtime/codec.h"
#include "deltaflow/runtime/worker.h"
#include "deltaflow/time/progress.h"

namespace deltaflow::dd {

// The dataflow machinery the dd operators are built on.
using runtime::Capability;
using runtime::Operator;
using runtime::Worker;

/// A change of `diff` in the multiplicity of `data` at `time`.
template <typename D, typename T, typename R = int64_t>
struct Update {
  D data;
  T time;
  R diff;

  bool operator==(const Update&) const = default;
};

/// Updates sent together at capability time `time`.
template <typename D, typename T, typename R = int64_t>
struct Message {
  T time;
  std::vector<Update<D, T, R>> updates;
};

}  // namespace deltaflow::dd

namespace deltaflow::runtime {

template <Encodable D, Encodable T, Encodable R>
struct Codec<dd::Update<D, T, R>> {
  static void Encode(const dd::Update<D, T, R>& u, std::string& out) {
    Codec<D>::Encode(u.data, out);
    Codec<T>::Encode(u.time, out);
    Codec<R>::Encode(u.diff, out);
  }
  static bool Decode(const char*& p, const char* end, dd::Update<D, T, R>& u) {
    return Codec<D>::Decode(p, end, u.data) && Codec<T>::Decode(p, end, u.time) &&
           Codec<R>::Decode(p, end, u.diff);
  }
};

template <Encodable D, Encodable T, Encodable R>
struct Codec<dd::Message<D, T, R>> {
  static void Encode(const dd::Message<D, T, R>& m, std::string& out) {
    Codec<T>::Encode(m.time, out);
    Codec<std::vector<dd::Update<D, T, R>>>::Encode(m.updates, out);
  }
  static bool Decode(const char*& p, const char* end, dd::Message<D, T, R>& m) {
    return Codec<T>::Decode(p, end, m.time) &&
           Codec<std::vector<dd::Update<D, T, R>>>::Decode(p, end, m.updates);
  }
};

}  // namespace deltaflow::runtime

namespace deltaflow::dd {

/// The receiving end of an edge: a queue of messages for one input of one operator.
template <typename D, typename T, typename R = int64_t>
class InputPort {
 public:
  InputPort(Worker<T>* worker, time::Target target) : worker_(worker), target_(target) {}
  InputPort(const InputPort&) = delete;
  InputPort& operator=(const InputPort&) = delete;

  time::Target target() const { return target_; }

  /// Enqueues a message (called by the producing side) and activates the consumer.
  void Push(Message<D, T, R> message) {
    worker_->UpdateMessages(target_, message.time, +1);
    worker_->Activate(target_.node);
    queue_.push_back(std::move(message));
  }

  /// Calls `f(const T& time, std::vector<Update>& updates)` for every queued message, in
  /// arrival order. Each message stops counting as in flight once `f` returns, so `f` may
  /// send output at `time` without holding a capability for it.
  template <typename F>
  void ForEach(F&& f) {
    while (!queue_.empty()) {
      Message<D, T, R> message = std::move(queue_.front());
      queue_.pop_front();
      f(message.time, message.updates);
      worker_->UpdateMessages(target_, message.time, -1);
    }
  }

  bool empty() const { return queue_.empty(); }

 private:
  Worker<T>* worker_;
  time::Target target_;
  std::deque<Message<D, T, R>> queue_;
};

/// The sending end of an operator's output: every input port connected to it.
template <typename D, typename T, typename R = int64_t>
class OutputPort {
 public:
  explicit OutputPort(time::Source source) : source_(source) {}
  OutputPort(const OutputPort&) = delete;
  OutputPort& operator=(const OutputPort&) = delete;

  time::Source source() const { return source_; }
  void AddConsumer(InputPort<D, T, R>* input) { consumers_.push_back(input); }

  /// Graph-building state attached to this output, one per type: the arrangement of this
  /// collection, so that arranging it twice returns the first one.
  template <typename A>
  std::shared_ptr<A> Attachment() const {
    auto it = attachments_.find(std::type_index(typeid(A)));
    return it == attachments_.end() ? nullptr : std::static_pointer_cast<A>(it->second);
  }
  template <typename A>
  void SetAttachment(std::shared_ptr<A> attachment) {
    attachments_[std::type_index(typeid(A))] = std::move(attachment);
  }

  /// Sends `updates` at capability time `time` to every consumer. The caller holds a
  /// capability at or before `time`, or is inside `InputPort::ForEach` for a message at
  /// `time`. Empty messages are not sent.
  void Send(const T& time, std::vector<Update<D, T, R>> updates) {
    if (updates.empty() || consumers_.empty()) return;
    for (size_t i = 0; i + 1 < consumers_.size(); ++i) {
      consumers_[i]->Push(Message<D, T, R>{time, updates});
    }
    consumers_.back()->Push(Message<D, T, R>{time, std::move(updates)});
  }

 private:
  time::Source source_;
  std::vector<InputPort<D, T, R>*> consumers_;
  std::map<std::type_index, std::shared_ptr<void>> attachments_;
};

}  // namespace deltaflow::dd
