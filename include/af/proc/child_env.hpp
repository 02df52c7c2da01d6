#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace af::proc {

struct RunAs;

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

/// The prefix of the variables the daemon sets itself; a configured env may not use it.
inline constexpr std::string_view k_reserved_prefix = "AIRFLOW_FAILOVER_";
bool reserved_name(std::string_view name);

/// The base allowlist: PATH, HOME, LANG, LC_*, TZ, USER, LOGNAME and AIRFLOW_FAILOVER_*.
bool in_base_allowlist(std::string_view name);

/// The one place a child's environment is put together: every child the daemon starts (a
/// managed process, its warm copy, its `command` health check, a hook, the guard) gets its
/// EnvPolicy from here, so the AIRFLOW_FAILOVER_* contract (docs/operations.md) is stated once.
class ChildEnv {
  public:
    /// The daemon's own helpers (the guard): the whole environment, nothing added.
    static ChildEnv daemon_helper();
    /// A child of the daemon of `node` in `cluster`: AIRFLOW_FAILOVER_CLUSTER and _NODE.
    ChildEnv(std::string_view cluster, std::string_view node);

    /// A managed process `name` (or its warm copy or health check): its configured `env` and
    /// `inherit` names, and AIRFLOW_FAILOVER_PROCESS.
    ChildEnv& process(std::string_view name, const std::map<std::string, std::string>& env,
                      const std::vector<std::string>& inherit);
    /// AIRFLOW_FAILOVER_TERM (a warm copy has none: its term comes with go).
    ChildEnv& term(std::int64_t id);
    /// AIRFLOW_FAILOVER_WARM_FD: where a warm copy finds its go channel.
    ChildEnv& warm_fd(int fd);
    /// A hook run: AIRFLOW_FAILOVER_HOOK, _ACTION, _ROLE, _TERM and _PREVIOUS_HOLDER.
    ChildEnv& hook(std::string_view hook, std::string_view action, std::string_view role,
                   std::int64_t term_id, std::string_view previous_holder);
    /// One more variable (tests, and callers that pass their own).
    ChildEnv& set(std::string name, std::string value);

    const EnvPolicy& policy() const { return policy_; }

  private:
    ChildEnv() = default;
    EnvPolicy policy_;
};

/// Running as another user (spawn's run_as): HOME, USER and LOGNAME are that user's unless
/// the policy sets them already.
EnvPolicy as_user(EnvPolicy policy, const RunAs& who);

/// The child's "NAME=value" strings from the parent's environment (a NULL-terminated array
/// like `environ`) and the policy. Pure; sorted by name, each name at most once.
std::vector<std::string> child_environment(const char* const* parent, const EnvPolicy& policy);

}  // namespace af::proc
