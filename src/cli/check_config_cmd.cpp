#include "af/cli/check_config_cmd.hpp"

#include <iostream>

#include "af/cli/cli.hpp"
#include "af/cli/preflight.hpp"
#include "af/db/renew_timing.hpp"

namespace af::cli {

namespace {

std::string ms(Duration d) {
    return std::to_string(d.count()) + " ms";
}

}  // namespace

int cmd_check_config(const config::Config& c, bool host_checks) {
    const auto problems = host_checks ? preflight(c) : std::vector<std::string>{};
    if (!problems.empty()) {
        for (const auto& p : problems)
            std::cerr << "airflow-failover: config error: " << p << "\n";
        std::cerr << "airflow-failover: check-config: " << problems.size()
                  << " problem(s); `run` would refuse to start\n";
        return k_exit_unknown;
    }
    const auto e = c.election();
    std::cout << "config OK: cluster " << c.cluster << ", node " << c.node_id
              << (host_checks ? "" : " (syntax only: this host was not checked)") << "\n"
              << "  lease ttl " << ms(e.ttl) << ", renew every " << ms(e.renew_interval)
              << ", fence margin " << ms(e.fence_margin) << ", standby polls every "
              << ms(e.poll_interval) << "\n"
              << "  on renewal trouble: freeze (SIGSTOP) " << ms(e.fence_lead())
              << " before the local deadline, thaw if a renewal arrives, SIGKILL "
              << ms(e.kill_grace) << " before it\n";
    const auto rt = db::renew_timing(e.ttl, e.renew_interval, e.fence_margin);
    std::cout << "  renewals: 3 lanes, a copy after " << ms(rt.hedge_after)
              << " unanswered, statement and TCP timeout " << ms(rt.statement_timeout) << "\n";
    if (c.heartbeat) {
        const auto& h = *c.heartbeat;
        std::cout << "  heartbeats every " << ms(h.interval) << " on " << h.listen_host << ":"
                  << h.listen_port << " to " << h.peers.size()
                  << " peer(s); a peer is silent after " << h.miss_count << " missed ("
                  << ms(e.miss_window()) << "); standby polls every " << ms(h.slow_poll)
                  << " while it hears the active"
                  << (h.insecure ? "; INSECURE: no authentication" : "") << "\n";
    } else {
        std::cout << "  heartbeats: off (standbys learn of a dead active from the lease only)\n";
    }
    if (c.metrics)
        std::cout << "  metrics and health endpoints on http://" << c.metrics->listen_host << ":"
                  << c.metrics->listen_port << " (/metrics, /healthz, /healthz/active)\n";
    else
        std::cout << "  metrics: off\n";
    for (const auto& p : c.processes) {
        std::cout << "  process " << p.name << ":";
        for (const auto& a : p.command)
            std::cout << " " << a;
        std::cout << " (stop timeout " << ms(p.stop_timeout);
        if (p.user)
            std::cout << ", as user " << *p.user << (p.group ? ":" + *p.group : "");
        if (!p.inherit_env.empty()) {
            std::cout << ", inherits";
            for (const auto& n : p.inherit_env)
                std::cout << " " << n;
        }
        if (p.warm_enabled())
            std::cout << ", warm standby: replaced after " << p.warm->max_age.count() / 1000
                      << " s, on SIGHUP and when one of " << p.warm->watch_paths.size()
                      << " watched path(s) changes";
        std::cout << ")\n";
        if (p.health) {
            const auto& h = *p.health;
            std::cout << "    health " << h.type << (h.type == "http" ? " " + h.url : std::string())
                      << ": every " << ms(h.interval) << ", timeout " << ms(h.timeout)
                      << ", killed after " << h.failure_threshold
                      << " failures in a row (at the earliest "
                      << ms(h.interval * h.failure_threshold) << "), start period "
                      << ms(h.start_period) << "\n";
        }
    }
    return 0;
}

}  // namespace af::cli
