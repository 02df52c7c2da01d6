#include "af/daemon/reload_plan.hpp"

namespace af::daemon {

namespace {

/// Only the health-check limits differ (a check's type or target needs a restart).
bool health_limits_only(const config::Config& running, const config::Config& fresh) {
    if (fresh.processes.size() != running.processes.size())
        return false;
    for (std::size_t i = 0; i < fresh.processes.size(); ++i) {
        auto a = fresh.processes[i];
        a.health = running.processes[i].health;
        if (!(a == running.processes[i]) ||
            fresh.processes[i].health.has_value() != running.processes[i].health.has_value())
            return false;
    }
    return true;
}

}  // namespace

ReloadPlan plan_reload(const config::Config& running, const config::Config& fresh) {
    ReloadPlan p;
    auto check = [&](const char* what, bool changed) {
        if (changed)
            p.refused.emplace_back(what);
    };
    check("cluster", fresh.cluster != running.cluster);
    check("node_id", fresh.node_id != running.node_id);
    check("database", !(fresh.database == running.database));
    check("lease", !(fresh.lease == running.lease));
    check("supervision", !(fresh.supervision == running.supervision));
    if (!(fresh.processes == running.processes)) {
        if (health_limits_only(running, fresh)) {
            p.processes_changed = true;
            for (std::size_t i = 0; i < fresh.processes.size(); ++i) {
                const auto& h = fresh.processes[i].health;
                if (h && !(h == running.processes[i].health))
                    p.health_limits.emplace_back(fresh.processes[i].name, *h);
            }
        } else {
            p.refused.emplace_back("processes");
        }
    }
    check("log.format", fresh.log.format != running.log.format);
    check("status_interval_ms", fresh.status_interval != running.status_interval);
    check("priority", fresh.priority != running.priority);
    check("failback", fresh.failback != running.failback);
    check("nofailover", fresh.nofailover != running.nofailover);
    check("heartbeat", !(fresh.heartbeat == running.heartbeat));
    check("fencing", fresh.fence_roles != running.fence_roles);
    check("metrics", !(fresh.metrics == running.metrics));
    check("airflow", !(fresh.airflow == running.airflow));
    check("hooks", !(fresh.hooks == running.hooks));
    if (fresh.log.level != running.log.level)
        p.log_level = fresh.log.level;
    return p;
}

std::string join_refused(const std::vector<std::string>& refused) {
    std::string list;
    for (const auto& r : refused)
        list += (list.empty() ? "" : ", ") + r;
    return list;
}

}  // namespace af::daemon
