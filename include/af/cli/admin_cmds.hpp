#pragma once

#include <optional>
#include <string>

#include "af/config/config.hpp"

namespace af::cli {

/// `switchover`: a command row for the active node; waits up to `timeout_s` for a new active.
int cmd_switchover(const config::Config& c, const std::optional<std::string>& to, double timeout_s);

/// `restart PROCESS [--node N]`: a command row for the active node (the only one running the
/// processes), carried out by its daemon (ev::process_restart): a graceful stop and a start in
/// the same term, no crash counted. Waits up to `timeout_s` for the daemon's answer.
int cmd_restart(const config::Config& c, const std::string& process,
                const std::optional<std::string>& node, double timeout_s);

/// `remove NODE`: deletes a decommissioned node's row; refused while the node holds the lease or
/// is not stale by the schema's rule (its daemon would write the row again).
int cmd_remove(const config::Config& c, const std::string& node);

/// `failover --to NODE`: for when no healthy active exists (Patroni's semantics): refused while a
/// healthy active exists unless `force`; asks on a terminal unless `yes`. A live holder gets a
/// switchover command; a free lease is reserved for NODE (reserve_free_lease).
int cmd_failover(const config::Config& c, const std::string& to, bool force, bool yes,
                 double timeout_s);

/// `events prune --older-than DAYS`: deletes the cluster's events older than `days` (>= 1), the
/// one delete the append-only rule lets through. As `conninfo` (the events table's owner).
int cmd_events_prune(const config::Config& c, int days, const std::optional<std::string>& conninfo);

}  // namespace af::cli
