// Exchange: routes each record of a collection to the worker that owns it.
//
// With one worker, `Exchange` returns its input. With several, each worker's exchange
// operator splits its input by `hash(record) % peers`, keeps its own part and sends the other
// parts through an exchange channel; each worker's operator forwards what it receives.
// A record in flight between workers counts as a message at the operator's second input
// (which has no edge: only peers send to it), so downstream frontiers wait for it.
#pragma once

#include <memory>
#include <utility>
#include <vector>

#include "deltaflow/dd/collection.h"
#include "deltaflow/dd/shard_hash.h"
#include "deltaflow/dd/stream.h"
#include "deltaflow/runtime/worker.h"
#include "deltaflow/runtime/communicator.h"

namespace deltaflow::dd {

/// Routes each record to worker `hash(record) % peers`.
template <typename D, typename T, typename R, typename H>
Collection<D, T, R> Exchange(const Collection<D, T, R>& collection, H hash) {
  Worker<T>& worker = collection.worker();
  if (worker.peers() == 1) return collection;
  auto channel = worker.communicator()->template Channel<Message<D, T, R>>(worker.AllocateChannel());
  struct State {
    std::vector<std::vector<Update<D, T, R>>> parts;
    std::vector<Message<D, T, R>> received;
  };
  auto state = std::make_shared<State>();
  state->parts.resize(worker.peers());
  using Op = UnaryOperator<D, D, T, R, std::function<void(InputPort<D, T, R>&, OutputPort<D, T, R>&, Operator<T>&)>>;
  uint32_t self = worker.index();
  uint32_t peers = worker.peers();
  std::function<void(InputPort<D, T, R>&, OutputPort<D, T, R>&, Operator<T>&)> logic =
      [state, channel, hash = std::move(hash), self, peers, &worker](
          InputPort<D, T, R>& input, OutputPort<D, T, R>& output, Operator<T>& op) {
        time::Target remote{op.index(), 1};
        input.ForEach([&](const T& time, std::vector<Update<D, T, R>>& updates) {
          // Room for an even share and some: one allocation per part, not a doubling series.
          const std::size_t expected = updates.size() / peers + updates.size() / (4 * peers) + 8;
          for (auto& part : state->parts) part.reserve(expected);
          for (auto& u : updates) state->parts[hash(u.data) % peers].push_back(std::move(u));
          for (uint32_t w = 0; w < peers; ++w) {
            auto& part = state->parts[w];
            if (part.empty()) continue;
            if (w == self) {
              output.Send(time, std::move(part));
            } else {
              worker.UpdateMessages(remote, time, +1);
              channel->Send(w, Message<D, T, R>{time, std::move(part)});
            }
            part = {};
          }
        });
        state->received.clear();
        channel->Receive(self, state->received);
        for (auto& message : state->received) {
          T time = message.time;
          output.Send(time, std::move(message.updates));
          worker.UpdateMessages(remote, time, -1);
        }
      };
  Op* op = worker.AddOperator(std::make_unique<Op>("Exchange", std::move(logic)), 2, 1);
  op->Wire(&worker);
  collection.ConnectTo(op->input());
  worker.AddPoller(op->index(), [channel, self] { return channel->HasPending(self); });
  return Collection<D, T, R>(&worker, op->output());
}

}  // namespace deltaflow::dd
