// Encodes a few records as deltaflow rows and prints their stable ids: the same values give
// the same id in every process, which is what lets deltaflow persist and exchange rows.
#include <cstdio>
#include <string>

#include "deltaflow/value/row.h"

int main() {
  using deltaflow::value::HashRow;
  using deltaflow::value::Row;
  using deltaflow::value::RowBuilder;

  RowBuilder builder;
  const char* words[] = {"apple", "banana", "apple"};
  for (int i = 0; i < 3; ++i) {
    builder.String(words[i]).Int(i % 2);
    if (absl::Status s = builder.Json(R"({"source": "demo", "line": 1})"); !s.ok()) {
      std::fprintf(stderr, "%s\n", std::string(s.message()).c_str());
      return 1;
    }
    Row row = builder.Finish();
    std::printf("%-45s id %s (%zu bytes)\n", row.DebugString().c_str(),
                HashRow(row).ToString().c_str(), row.size());
  }
  return 0;
}
