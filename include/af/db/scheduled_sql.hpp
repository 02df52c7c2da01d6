#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <pqxx/connection>
#include <string>
#include <utility>
#include <vector>

#include "af/db/command_sql.hpp"
#include "af/db/scope.hpp"

namespace af::db {

/// A switchover waiting for its time (switchover --at), as status shows it.
struct ScheduledSwitchover {
    std::int64_t id{0};
    std::optional<std::string> target;  ///< none: the best standby
    std::string requested_by;
    std::string at;          ///< ISO-8601 UTC, on the database clock
    std::int64_t in_ms{0};   ///< from now, on the database clock (negative: overdue)
    std::string for_holder;  ///< only this holder, in this term, carries it out
    std::int64_t for_term{0};

    nlohmann::json to_json() const;
};

/// Thrown when the requested time is not ahead of the database clock.
struct NotInFuture : std::invalid_argument {
    using std::invalid_argument::invalid_argument;
};

class ScheduledSql {
  public:
    explicit ScheduledSql(Scope scope) : scope_(std::move(scope)) {}

    /// Inserts a switchover command that no daemon takes before its time: `in_ms` from now on
    /// the database clock, or else `iso` (an ISO-8601 instant the database converts). Refuses a
    /// time that is not ahead of the database clock (NotInFuture).
    ScheduledSwitchover schedule(pqxx::connection& c, const std::optional<std::string>& target,
                                 const std::string& requested_by, const CommandTarget& meant_for,
                                 std::optional<std::int64_t> in_ms,
                                 const std::optional<std::string>& iso) const;
    /// The switchovers still waiting for their time, oldest first.
    std::vector<ScheduledSwitchover> waiting(pqxx::connection& c) const;
    /// Closes every waiting switchover as cancelled by `by`; returns those it closed.
    std::vector<ScheduledSwitchover> cancel(pqxx::connection& c, const std::string& by) const;
    /// Milliseconds until the next switchover meant for `node_id` falls due (none: nothing
    /// waits).
    std::optional<std::int64_t> next_due_ms(pqxx::connection& c, const std::string& node_id) const;

  private:
    Scope scope_;
};

}  // namespace af::db
