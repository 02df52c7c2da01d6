#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "af/config/config.hpp"

namespace af::daemon {

/// What a SIGHUP may apply: only what is safe under a running election. The rest is named in
/// `refused` and keeps its running value until a restart.
struct ReloadPlan {
    std::vector<std::string> refused;
    /// New health-check limits (failure_threshold, interval_ms, start_period_ms), by process.
    std::vector<std::pair<std::string, config::HealthConfig>> health_limits;
    bool processes_changed{false};  ///< only when health_limits are all that changed in them
    std::optional<std::string> log_level;
};

ReloadPlan plan_reload(const config::Config& running, const config::Config& fresh);

/// The refused keys for the log: "lease, heartbeat".
std::string join_refused(const std::vector<std::string>& refused);

}  // namespace af::daemon
