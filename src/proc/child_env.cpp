#include "af/proc/child_env.hpp"

#include <algorithm>

namespace af::proc {

bool in_base_allowlist(std::string_view name) {
    static constexpr std::string_view exact[] = {"PATH", "HOME", "LANG", "TZ", "USER", "LOGNAME"};
    if (std::find(std::begin(exact), std::end(exact), name) != std::end(exact))
        return true;
    return name.rfind("LC_", 0) == 0 || name.rfind("AIRFLOW_FAILOVER_", 0) == 0;
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
