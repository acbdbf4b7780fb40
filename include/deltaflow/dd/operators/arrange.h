// Arrangements: a collection of (key, val) updates indexed by key, shared by its readers.
//
// `Arrange(collection)` adds an operator that batches the collection's updates and, each time
// its input frontier passes some times, seals the complete updates into an immutable batch.
// Every batch is inserted into one shared `Spine` (the trace) and sent downstream, so readers
// (join, reduce, ...) see both the history (through the trace) and the new batches (through
// the stream). A collection is arranged at most once per key type: arranging it again returns
// the same arrangement (DESIGN.md, "shared arrangements").
//
// Readers hold `TraceHandle`s; the trace compacts to the meet of their frontiers, so history
// no reader can observe collapses as readers move on. The arrange operator itself holds no
// handle: an arrangement without readers keeps nothing.
#pragma once

#include <algorithm>
#include <memory>
#include <tuple>
#include <typeindex>
#include <utility>
#include <vector>

#include "deltaflow/dd/collection.h"
#include "deltaflow/dd/exchange.h"
#include "deltaflow/dd/shard_hash.h"
#include "deltaflow/dd/stream.h"
#include "deltaflow/dd/trace/batcher.h"
#include "deltaflow/dd/trace/spine.h"
#include "deltaflow/dd/trace/trace.h"
#include "deltaflow/runtime/worker.h"

namespace deltaflow::dd {

/// The unit type, for collections arranged by their whole record (`ArrangeBySelf`).
struct Unit {
  auto operator<=>(const Unit&) const = default;
};

}  // namespace deltaflow::dd

namespace deltaflow::runtime {

/// `Unit` takes no bytes.
template <>
struct Codec<dd::Unit> {
  static void Encode(const dd::Unit&, std::string&) {}
  static bool Decode(const char*&, const char*, dd::Unit&) { return true; }
};

}  // namespace deltaflow::runtime

namespace deltaflow::dd {

/// An owned copy of a value borrowed from a batch (a `Row` from a `RowView`).
template <typename V>
V ToOwned(const Borrowed<V>& borrowed) {
  return V(borrowed);
}

/// Sends sealed batches: seals `batcher` once per held capability that `frontier` has passed
/// (each seal's upper also holds back the later capabilities' times, as differential
/// dataflow's arrange does, so every batch goes out under a capability at or before all of
/// its updates), inserts each batch into `trace` and sends it on `output`; then keeps
/// capabilities only for the times still held in the batcher and in `also_hold`.
template <typename K, typename V, typename T, typename R>
void SealAndSend(MergeBatcher<K, V, T, R>& batcher, Spine<K, V, T, R>& trace,
                 OutputPort<std::shared_ptr<const OrdBatch<K, V, T, R>>, T, R>& output,
                 std::vector<Capability<T>>& capabilities, const time::Antichain<T>& frontier,
                 const std::vector<T>& also_hold = {}) {
  using Batch = OrdBatch<K, V, T, R>;
  std::sort(capabilities.begin(), capabilities.end(),
            [](const auto& a, const auto& b) { return a.time() < b.time(); });
  bool sealed = false;
  for (size_t i = 0; i < capabilities.size(); ++i) {
    if (frontier.LessEqual(capabilities[i].time())) continue;
    time::Antichain<T> upper = frontier;
    for (size_t j = i + 1; j < capabilities.size(); ++j) upper.Insert(capabilities[j].time());
    auto batch = std::make_shared<const Batch>(batcher.Seal(upper));
    trace.Insert(batch);
    sealed = true;
    output.Send(capabilities[i].time(), {Update<std::shared_ptr<const Batch>, T, R>{
                                            batch, capabilities[i].time(), R{1}}});
  }
  if (!sealed && batcher.Lower() != frontier) {
    // Nothing complete to send (held updates are all at or after `frontier`), but the trace
    // still learns that the times before `frontier` are complete.
    trace.Insert(std::make_shared<const Batch>(batcher.Seal(frontier)));
  }
  // Keep capabilities for the minimal times still held.
  time::Antichain<T> needed = batcher.Frontier();
  for (const T& t : also_hold) needed.Insert(t);
  RetainCapabilitiesFor(capabilities, needed);
}

/// A collection arranged by key: the shared trace and the stream of its new batches.
template <typename K, typename V, typename T, typename R = int64_t>
class Arranged {
 public:
  using Trace = Spine<K, V, T, R>;
  using Batch = OrdBatch<K, V, T, R>;
  using BatchPtr = std::shared_ptr<const Batch>;
  using Handle = TraceHandle<Trace>;

  Arranged(Worker<T>* worker, OutputPort<BatchPtr, T, R>* batches, std::shared_ptr<Trace> trace)
      : worker_(worker), batches_(batches), trace_(std::move(trace)) {}

  Worker<T>& worker() const { return *worker_; }
  OutputPort<BatchPtr, T, R>* batches() const { return batches_; }
  const std::shared_ptr<Trace>& trace() const { return trace_; }

  /// A new reader of the trace. Its frontiers start where the trace's are; the reader must
  /// advance them as it moves on, or the trace keeps all history.
  Handle NewHandle() const { return Handle(trace_); }

  /// The arranged updates as a collection of `f(key, val)`.
  template <typename F>
  auto AsCollection(F f) const {
    using D = std::decay_t<std::invoke_result_t<F&, Borrowed<K>, Borrowed<V>>>;
    auto logic = [f = std::move(f)](auto& input, auto& output, auto&) mutable {
      input.ForEach([&](const T& time, std::vector<Update<BatchPtr, T, R>>& batches) {
        std::vector<Update<D, T, R>> out;
        for (const auto& b : batches) {
          auto cursor = b.data->Cursor();
          for (; cursor.KeyValid(); cursor.StepKey()) {
            for (; cursor.ValValid(); cursor.StepVal()) {
              cursor.MapTimes([&](const T& t, const R& r) {
                out.push_back({f(cursor.Key(), cursor.Val()), t, r});
              });
            }
          }
        }
        output.Send(time, std::move(out));
      });
    };
    Collection<BatchPtr, T, R> stream(worker_, batches_);
    return stream.template Unary<D>("AsCollection", std::move(logic));
  }

 private:
  Worker<T>* worker_;
  OutputPort<BatchPtr, T, R>* batches_;
  std::shared_ptr<Trace> trace_;
};

/// Arranges a collection of (key, val) pairs by key. Arranging the same collection twice
/// returns the first arrangement.
template <typename K, typename V, typename T, typename R>
Arranged<K, V, T, R> Arrange(const Collection<std::pair<K, V>, T, R>& collection) {
  using Result = Arranged<K, V, T, R>;
  if (auto cached = collection.port()->template Attachment<Result>()) return *cached;
  using BatchPtr = typename Result::BatchPtr;
  struct State {
    MergeBatcher<K, V, T, R> batcher;
    std::vector<std::tuple<K, V, T, R>> chunk;
    std::vector<Capability<T>> capabilities;
    std::shared_ptr<Spine<K, V, T, R>> trace = std::make_shared<Spine<K, V, T, R>>();
  };
  auto state = std::make_shared<State>();
  auto logic = [state](auto& input, auto& output, auto& op) {
    input.ForEach([&](const T& time, std::vector<Update<std::pair<K, V>, T, R>>& updates) {
      HoldCapability(state->capabilities, op.owner(), output.source(), time);
      state->chunk.reserve(updates.size());
      for (auto& u : updates) {
        state->chunk.emplace_back(std::move(u.data.first), std::move(u.data.second),
                                  std::move(u.time), u.diff);
      }
      state->batcher.Push(state->chunk);
    });
    SealAndSend(state->batcher, *state->trace, output, state->capabilities, op.InputFrontier(0));
  };
  // Each worker arranges the keys it owns.
  auto owned = Exchange(collection, [](const std::pair<K, V>& kv) { return ShardHash(kv.first); });
  auto stream = owned.template Unary<BatchPtr>("Arrange", std::move(logic));
  Result result(&collection.worker(), stream.port(), state->trace);
  collection.port()->SetAttachment(std::make_shared<Result>(result));
  return result;
}

/// Arranges a collection by its whole records.
template <typename D, typename T, typename R>
Arranged<D, Unit, T, R> ArrangeBySelf(const Collection<D, T, R>& collection) {
  using Keyed = Collection<std::pair<D, Unit>, T, R>;
  auto* port = collection.port();
  if (auto cached = port->template Attachment<Keyed>()) return Arrange(*cached);
  Keyed keyed = collection.Map([](const D& d) { return std::pair<D, Unit>(d, Unit{}); });
  port->SetAttachment(std::make_shared<Keyed>(keyed));
  return Arrange(keyed);
}

}  // namespace deltaflow::dd
