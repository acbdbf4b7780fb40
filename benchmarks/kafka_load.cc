// The load of benchmarks/kafka_bench.py: JSON words {"word": "wNNNN"} from a vocabulary, drawn
// with a seeded generator, produced to a topic at a fixed rate (librdkafka, in C++, so that the
// generator takes little of the machine the measured systems run on).
//
//   deltaflow_kafka_load BOOTSTRAP TOPIC RATE DURATION_S SEED VOCABULARY [END_MARKER]
//
// With DURATION_S = 0 it produces RATE words as fast as it can (a backlog). An end marker, when
// given, is produced last as the word END_MARKER. Prints the number of words produced.
#include <librdkafka/rdkafka.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace {

void Produce(rd_kafka_t* producer, rd_kafka_topic_t* topic, const std::string& payload) {
  while (rd_kafka_produce(topic, RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_COPY, const_cast<char*>(payload.data()),
                          payload.size(), nullptr, 0, nullptr) != 0) {
    if (rd_kafka_last_error() != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
      std::fprintf(stderr, "produce failed: %s\n", rd_kafka_err2str(rd_kafka_last_error()));
      std::exit(1);
    }
    rd_kafka_poll(producer, 1);
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 7) {
    std::fprintf(stderr, "usage: %s BOOTSTRAP TOPIC RATE DURATION_S SEED VOCABULARY [END_MARKER]\n", argv[0]);
    return 2;
  }
  const std::string bootstrap = argv[1], topic_name = argv[2];
  const long rate = std::atol(argv[3]);
  const double duration = std::atof(argv[4]);
  const unsigned seed = static_cast<unsigned>(std::atol(argv[5]));
  const int vocabulary = std::atoi(argv[6]);
  char error[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  if (rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap.c_str(), error, sizeof(error)) != RD_KAFKA_CONF_OK ||
      rd_kafka_conf_set(conf, "linger.ms", "1", error, sizeof(error)) != RD_KAFKA_CONF_OK ||
      rd_kafka_conf_set(conf, "queue.buffering.max.messages", "2000000", error, sizeof(error)) != RD_KAFKA_CONF_OK) {
    std::fprintf(stderr, "%s\n", error);
    return 1;
  }
  rd_kafka_t* producer = rd_kafka_new(RD_KAFKA_PRODUCER, conf, error, sizeof(error));
  if (producer == nullptr) {
    std::fprintf(stderr, "%s\n", error);
    return 1;
  }
  rd_kafka_topic_t* topic = rd_kafka_topic_new(producer, topic_name.c_str(), nullptr);
  std::vector<std::string> payloads;
  for (int i = 0; i < vocabulary; ++i) {
    char word[64];
    std::snprintf(word, sizeof(word), "{\"word\": \"w%04d\"}", i);
    payloads.emplace_back(word);
  }
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> pick(0, vocabulary - 1);
  long count = 0;
  auto start = std::chrono::steady_clock::now();
  if (duration <= 0) {
    for (; count < rate; ++count) {
      Produce(producer, topic, payloads[static_cast<size_t>(pick(rng))]);
      if (count % 10000 == 0) rd_kafka_poll(producer, 0);
    }
  } else {
    // Words due by now, produced every millisecond.
    while (true) {
      double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      if (elapsed >= duration) break;
      long due = static_cast<long>(rate * elapsed);
      for (; count < due; ++count) Produce(producer, topic, payloads[static_cast<size_t>(pick(rng))]);
      rd_kafka_poll(producer, 0);
      std::this_thread::sleep_for(std::chrono::microseconds(500));
    }
  }
  if (argc > 7) Produce(producer, topic, std::string("{\"word\": \"") + argv[7] + "\"}");
  rd_kafka_flush(producer, 120000);
  rd_kafka_topic_destroy(topic);
  rd_kafka_destroy(producer);
  std::printf("%ld\n", count);
  return 0;
}
