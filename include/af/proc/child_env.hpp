#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace af::proc {

/// What a child process may see of the daemon's environment. The daemon's own variables
/// (PGPASSWORD, PGPASSFILE, PGUSER, ...) identify it to PostgreSQL; code it runs must not get
/// them by accident, so the default is an allowlist, never "everything but".
struct EnvPolicy {
    /// Only for the daemon's own helpers (the guard), which log in as the daemon.
    bool inherit_all{false};
    /// Names copied from the daemon's environment beyond the base allowlist
    /// (processes[].inherit_env).
    std::vector<std::string> inherit;
    /// Set or replaced in the child (processes[].env and AIRFLOW_FAILOVER_*); win over inherited.
    std::map<std::string, std::string> set;
};

/// The base allowlist: PATH, HOME, LANG, LC_*, TZ, USER, LOGNAME and AIRFLOW_FAILOVER_*.
bool in_base_allowlist(std::string_view name);

/// The child's "NAME=value" strings from the parent's environment (a NULL-terminated array
/// like `environ`) and the policy. Pure; sorted by name, each name at most once.
std::vector<std::string> child_environment(const char* const* parent, const EnvPolicy& policy);

}  // namespace af::proc
