#include "af/proc/child_env.hpp"

#include <algorithm>

#include "af/proc/run_as.hpp"

namespace af::proc {

bool reserved_name(std::string_view name) {
    return name.rfind(k_reserved_prefix, 0) == 0;
}

bool in_base_allowlist(std::string_view name) {
    static constexpr std::string_view exact[] = {"PATH", "HOME", "LANG", "TZ", "USER", "LOGNAME"};
    if (std::find(std::begin(exact), std::end(exact), name) != std::end(exact))
        return true;
    return name.rfind("LC_", 0) == 0 || reserved_name(name);
}

namespace {
std::string var(std::string_view suffix) {
    return std::string(k_reserved_prefix) + std::string(suffix);
}
}  // namespace

ChildEnv ChildEnv::daemon_helper() {
    ChildEnv e;
    e.policy_.inherit_all = true;
    return e;
}

ChildEnv::ChildEnv(std::string_view cluster, std::string_view node) {
    policy_.set[var("CLUSTER")] = cluster;
    policy_.set[var("NODE")] = node;
}

ChildEnv& ChildEnv::process(std::string_view name, const std::map<std::string, std::string>& env,
                            const std::vector<std::string>& inherit) {
    // The configured env cannot name AIRFLOW_FAILOVER_* (config refuses it), so the daemon's
    // variables are never overridden by it.
    for (const auto& [k, v] : env)
        policy_.set.try_emplace(k, v);
    policy_.inherit.insert(policy_.inherit.end(), inherit.begin(), inherit.end());
    policy_.set[var("PROCESS")] = name;
    return *this;
}

ChildEnv& ChildEnv::term(std::int64_t id) {
    policy_.set[var("TERM")] = std::to_string(id);
    return *this;
}

ChildEnv& ChildEnv::warm_fd(int fd) {
    policy_.set[var("WARM_FD")] = std::to_string(fd);
    return *this;
}

ChildEnv& ChildEnv::hook(std::string_view hook, std::string_view action, std::string_view role,
                         std::int64_t term_id, std::string_view previous_holder) {
    policy_.set[var("HOOK")] = hook;
    policy_.set[var("ACTION")] = action;
    policy_.set[var("ROLE")] = role;
    policy_.set[var("PREVIOUS_HOLDER")] = previous_holder;
    return term(term_id);
}

EnvPolicy as_user(EnvPolicy policy, const RunAs& who) {
    policy.set.try_emplace("HOME", who.home);
    policy.set.try_emplace("USER", who.user);
    policy.set.try_emplace("LOGNAME", who.user);
    return policy;
}

ChildEnv& ChildEnv::set(std::string name, std::string value) {
    policy_.set[std::move(name)] = std::move(value);
    return *this;
}

std::vector<std::string> child_environment(const char* const* parent, const EnvPolicy& policy) {
    std::map<std::string, std::string> env;
    for (const char* const* e = parent; e && *e; ++e) {
        const std::string_view kv(*e);
        const auto eq = kv.find('=');
        if (eq == std::string_view::npos || eq == 0)
            continue;
        const std::string name(kv.substr(0, eq));
        const bool wanted =
            policy.inherit_all || in_base_allowlist(name) ||
            std::find(policy.inherit.begin(), policy.inherit.end(), name) != policy.inherit.end();
        // The first definition wins, as getenv() sees it.
        if (wanted && !env.count(name))
            env.emplace(name, std::string(kv.substr(eq + 1)));
    }
    for (const auto& [k, v] : policy.set)
        env[k] = v;
    std::vector<std::string> out;
    out.reserve(env.size());
    for (const auto& [k, v] : env)
        out.push_back(k + "=" + v);
    return out;
}

}  // namespace af::proc
