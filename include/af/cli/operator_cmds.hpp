#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <pqxx/connection>
#include <string>

#include "af/cli/time_arg.hpp"
#include "af/config/config.hpp"

namespace af::cli {

/// `pause`: maintenance mode for the whole cluster (docs/operations.md). `expires_ms` none:
/// until resume.
int cmd_pause(const config::Config& c, bool stop_processes, const std::string& reason,
              std::optional<std::int64_t> expires_ms);
/// `resume`: failover, restarts and health kills are on again at once.
int cmd_resume(const config::Config& c);

/// `switchover --at TIME`: schedules a hand-over for the active node the operator sees now.
int cmd_switchover_at(const config::Config& c, const std::optional<std::string>& to,
                      const AtTime& at);
/// `switchover --cancel`: closes every switchover still waiting for its time.
int cmd_switchover_cancel(const config::Config& c);

/// What `status` adds about maintenance mode and scheduled switchovers: printed lines (text)
/// or the "paused" and "scheduled_switchovers" members (JSON). Tolerates a schema older than
/// version 5 (shows nothing).
struct OperatorState {
    std::string text;
    nlohmann::json json;
    bool paused{false};
};
OperatorState read_operator_state(pqxx::connection& conn, const config::Config& c, bool active);

}  // namespace af::cli
