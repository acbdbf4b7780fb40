// What the PostgreSQL sink and source share about connections and server errors.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

#include <pqxx/pqxx>
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
#include <pqxx/tablewriter>
#pragma GCC diagnostic pop

namespace deltaflow::connectors::postgres::internal {

/// A row the connector cannot write (an Error value, a table that does not fit): ends the
/// transaction and stops the run with this message.
class WriteFailure : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Whether a server error means the connection is gone (a server shutting down or restarting,
/// a connection failure), so that the work can be done again on a new connection.
inline bool IsConnectionLoss(const pqxx::sql_error& e, const pqxx::connection* connection) {
  const std::string& state = e.sqlstate();
  if (state.rfind("57P", 0) == 0 || state.rfind("08", 0) == 0) return true;
  return connection == nullptr || !connection->is_open();
}

/// A server's message on one line: "ERROR:  x\nCONTEXT:  y\n" -> "ERROR: x; CONTEXT: y".
inline std::string ServerMessage(std::string_view text) {
  std::string out;
  bool space = false;
  for (char c : text) {
    if (c == '\n') {
      space = false;
      if (!out.empty()) out += "; ";
      continue;
    }
    if (c == ' ') {
      if (space || out.empty() || out.back() == ' ') continue;
      space = true;
    } else {
      space = false;
    }
    out += c;
  }
  while (!out.empty() && (out.back() == ' ' || out.back() == ';')) out.pop_back();
  return out;
}

}  // namespace deltaflow::connectors::postgres::internal
