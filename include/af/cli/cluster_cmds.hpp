#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "af/config/config.hpp"

namespace af::cli {

/// "1.5s": an age in milliseconds as `status` and `switchover` print it.
std::string age_text(std::int64_t ms);

/// `status`: the active node, its term and lease, every node row and what each hears; exit
/// k_exit_healthy, k_exit_no_active or k_exit_unknown (cli.hpp).
int cmd_status(const config::Config& c, bool json);

/// `history`: the last `limit` terms with how each ended and its takeover gap.
int cmd_history(const config::Config& c, bool json, int limit);

/// `init-db`: create or upgrade the schema, as `conninfo` (default: the config's) and, with
/// `daemon_role`, for that role with a fencing function for it (the administrator keeps the
/// schema, the events table and the fencing state); with `operator_role`, that role may run
/// status, history, pause, resume and switchover for the config's cluster and nothing else;
/// with `dashboard_role`, that role may read the cluster and request terminate for it.
int cmd_init_db(const config::Config& c, const std::optional<std::string>& conninfo,
                const std::optional<std::string>& daemon_role,
                const std::optional<std::string>& operator_role = std::nullopt,
                const std::optional<std::string>& dashboard_role = std::nullopt);

/// `init-db --airflow-role ROLE`: grants ROLE what the takeover step and the airflow-db checks
/// need on Airflow's job table (SELECT, UPDATE (state, end_date)), as `conninfo` (default:
/// airflow.conninfo).
int cmd_grant_airflow(const config::Config& c, const std::optional<std::string>& conninfo,
                      const std::string& role);

}  // namespace af::cli
