#include "deltaflow/runtime/codec.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "deltaflow/dd/operators/arrange.h"
#include "deltaflow/dd/stream.h"
#include "deltaflow/runtime/communicator.h"
#include "deltaflow/runtime/worker.h"
#include "deltaflow/time/product.h"
#include "testing/random_values.h"

namespace deltaflow::runtime {
namespace {

using PTime = time::Product<uint64_t, uint32_t>;
using RowMessage = dd::Message<std::pair<value::Row, dd::Unit>, PTime, int64_t>;

RowMessage RandomMessage(std::mt19937_64& rng) {
  RowMessage m;
  m.time = PTime(rng() % 10, static_cast<uint32_t>(rng() % 3));
  int n = static_cast<int>(rng() % 5);
  for (int i = 0; i < n; ++i) {
    m.updates.push_back({{testing::RandomRow(rng, 2, 1), dd::Unit{}},
                         PTime(m.time.outer + rng() % 2, m.time.inner),
                         static_cast<int64_t>(rng() % 5) - 2});
  }
  return m;
}

TEST(CodecTest, MessagesOfRowsRoundTrip) {
  std::mt19937_64 rng(1);
  for (int i = 0; i < 500; ++i) {
    RowMessage m = RandomMessage(rng);
    std::string bytes = EncodeToBytes(m);
    RowMessage back;
    ASSERT_TRUE(DecodeFromBytes(bytes, back));
    EXPECT_EQ(back.time, m.time);
    ASSERT_EQ(back.updates.size(), m.updates.size());
    for (size_t u = 0; u < m.updates.size(); ++u) EXPECT_EQ(back.updates[u], m.updates[u]);
  }
}

TEST(CodecTest, TruncatedOrCorruptBytesAreRejected) {
  std::mt19937_64 rng(2);
  for (int i = 0; i < 100; ++i) {
    RowMessage m = RandomMessage(rng);
    if (m.updates.empty()) continue;
    std::string bytes = EncodeToBytes(m);
    for (size_t cut = 0; cut < bytes.size(); ++cut) {
      RowMessage back;
      EXPECT_FALSE(DecodeFromBytes(std::string_view(bytes).substr(0, cut), back)) << cut;
    }
    // A row whose bytes are not canonical is refused, not trusted: corrupt the first row's
    // header byte (just after the message time, the update count and the row length).
    std::string corrupt = bytes;
    corrupt[sizeof(uint64_t) + sizeof(uint32_t) + 2] = 0x7f;
    RowMessage back;
    EXPECT_FALSE(DecodeFromBytes(corrupt, back));
  }
}

TEST(CodecTest, ProgressUpdatesRoundTrip) {
  std::vector<ProgressUpdate<PTime>> batch = {{3, 1, true, PTime(4, 2), -1},
                                              {0, 0, false, PTime(0, 0), 7}};
  std::vector<ProgressUpdate<PTime>> back;
  ASSERT_TRUE(DecodeFromBytes(EncodeToBytes(batch), back));
  ASSERT_EQ(back.size(), 2u);
  EXPECT_EQ(back[0].node, 3u);
  EXPECT_TRUE(back[0].is_target);
  EXPECT_EQ(back[0].time, PTime(4, 2));
  EXPECT_EQ(back[0].diff, -1);
  EXPECT_EQ(back[1].diff, 7);
}

TEST(CodecTest, ASerializingCommunicatorMovesBytes) {
  Communicator serializing(2, nullptr, /*serialize=*/true);
  auto channel = serializing.Channel<RowMessage>(0);
  EXPECT_NE(dynamic_cast<SerializingChannel<RowMessage>*>(channel.get()), nullptr);
  std::mt19937_64 rng(3);
  RowMessage m = RandomMessage(rng);
  channel->Send(1, m);
  std::vector<RowMessage> received;
  ASSERT_TRUE(channel->Receive(1, received));
  ASSERT_EQ(received.size(), 1u);
  EXPECT_EQ(received[0].updates, m.updates);
  Communicator plain(2);
  EXPECT_EQ(dynamic_cast<SerializingChannel<RowMessage>*>(plain.Channel<RowMessage>(0).get()),
            nullptr);
}

}  // namespace
}  // namespace deltaflow::runtime
