#pragma once

namespace af::core {

/// A node's role as the core sees it. nofailover: a node configured never to compete; it reports
/// and sends heartbeats only.
enum class Role { standby, active, stopping, stopped, nofailover };
const char* to_string(Role r);

/// What hooks.on_role_change is told (AIRFLOW_FAILOVER_ACTION).
enum class RoleChange { promote, demote };
const char* to_string(RoleChange c);

}  // namespace af::core
