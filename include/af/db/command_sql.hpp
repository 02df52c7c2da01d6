#pragma once

#include <cstdint>
#include <optional>
#include <pqxx/connection>
#include <string>
#include <vector>

#include "af/db/scope.hpp"
namespace af::db {

/// An operator's request (switchover, terminate), written by the CLI or the dashboard and
/// carried out by the active daemon.
struct Command {
    std::int64_t id{0};
    std::string kind;
    std::optional<std::string> target;
    std::string requested_by;
};

/// Who a command is meant for: only this holder, in this term, carries it out.
struct CommandTarget {
    std::string holder;
    std::int64_t term{0};
};

class CommandSql {
  public:
    CommandSql(Scope scope, std::string node_id);

    /// Takes the oldest pending command meant for this node in its current term, but only
    /// while it holds an unexpired lease, and not before its time (not_before, switchover --at).
    /// Commands older than 30 s (past their time) are closed as expired: an old click must not
    /// fire later. Commands meant for another holder or term are closed as
    /// stale (with an event saying so); their reasons are appended to `stale` if given.
    std::optional<Command> take(pqxx::connection& c,
                                std::vector<std::string>* stale = nullptr) const;
    void finish(pqxx::connection& c, std::int64_t id, const std::string& result) const;
    /// Requests a command through the schema's request_command (migration 8; its trigger
    /// notifies the daemons); returns its id. It is meant for `meant_for`, and written only while
    /// that holder still holds the live lease in that term (none: it was not written); without
    /// `meant_for`, for the live lease's holder and term at the time of the insert.
    std::optional<std::int64_t> insert(
        pqxx::connection& c, const std::string& kind, const std::optional<std::string>& target,
        const std::string& requested_by,
        const std::optional<CommandTarget>& meant_for = std::nullopt) const;
    /// The result of a command, once done.
    std::optional<std::string> result(pqxx::connection& c, std::int64_t id) const;

  private:
    Scope scope_;
    std::string node_id_;
};

}  // namespace af::db
