#pragma once

#include <cstdint>
#include <optional>
#include <pqxx/connection>
#include <string>

namespace af::db {

/// An operator's request (switchover, terminate), written by the CLI or the dashboard and
/// carried out by the active daemon.
struct Command {
    std::int64_t id{0};
    std::string kind;
    std::optional<std::string> target;
    std::string requested_by;
};

class CommandSql {
  public:
    CommandSql(std::string schema, std::string cluster, std::string node_id);

    /// Takes the oldest pending command, but only while this node holds an unexpired lease.
    /// Commands older than 30 s are closed as expired instead: an old click must not fire later.
    std::optional<Command> take(pqxx::connection& c) const;
    void finish(pqxx::connection& c, std::int64_t id, const std::string& result) const;
    /// Inserts a command (its trigger notifies the daemons); returns its id.
    std::int64_t insert(pqxx::connection& c, const std::string& kind,
                        const std::optional<std::string>& target,
                        const std::string& requested_by) const;
    /// The result of a command, once done.
    std::optional<std::string> result(pqxx::connection& c, std::int64_t id) const;

  private:
    std::string schema_;
    std::string cluster_;
    std::string node_id_;
};

}  // namespace af::db
