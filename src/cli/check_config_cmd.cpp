#include "af/cli/check_config_cmd.hpp"

#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <optional>

#include "af/airflow/job_hostname.hpp"
#include "af/cli/cli.hpp"
#include "af/cli/preflight.hpp"
#include "af/db/renew_timing.hpp"

namespace af::cli {

namespace {

std::string ms(Duration d) {
    return std::to_string(d.count()) + " ms";
}

std::string unit_path(const std::optional<std::string>& environment_file,
                      std::vector<std::string>& notes) {
    // The unit's EnvironmentFile= (config/airflow-failover.service), then systemd's own PATH
    // for services: not the PATH of the operator's shell.
    constexpr const char* k_default_file = "/etc/default/airflow-failover";
    constexpr const char* k_systemd_path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin";
    std::string file = environment_file.value_or("");
    std::error_code ec;
    if (file.empty() && std::filesystem::exists(k_default_file, ec))
        file = k_default_file;
    if (!file.empty()) {
        for (const auto& [k, v] : read_environment_file(file))
            if (k == "PATH") {
                notes.push_back("commands searched on PATH=" + v + " (from " + file + ")");
                return v;
            }
        notes.push_back("commands searched on systemd's PATH=" + std::string(k_systemd_path) +
                        " (" + file + " sets none)");
        return k_systemd_path;
    }
    const char* mine = std::getenv("PATH");
    notes.push_back("commands searched on this shell's PATH (no " + std::string(k_default_file) +
                    "; pass the unit's with --environment-file)");
    return mine ? mine : "";
}

}  // namespace

int cmd_check_config(const config::Config& c, bool host_checks,
                     const std::optional<std::string>& environment_file,
                     const std::optional<std::string>& config_path) {
    std::vector<std::string> notes;
    std::vector<std::string> problems;
    if (host_checks) {
        try {
            PreflightContext ctx{unit_path(environment_file, notes), config_path, &notes};
            problems = preflight(c, ctx);
        } catch (const std::exception& e) {
            problems.push_back(std::string("--environment-file: ") + e.what());
        }
    }
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
    for (const auto& n : notes)
        std::cout << "  " << n << "\n";
    const auto rt = db::renew_timing(e);
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
    // The hostname Airflow records for this node's jobs: what the airflow-db checks look for and
    // what this node's row tells a winner whose takeover closes out this node's jobs.
    std::optional<airflow::JobHostname> host;
    if (c.airflow) {
        const auto& a = *c.airflow;
        if (host_checks || a.hostnames.count(c.node_id))
            host = airflow::job_hostname(c, airflow::system_lookup());
        std::cout << "  Airflow hostname of this node: "
                  << (host ? host->hostname + " (" + host->source + ")"
                           : std::string("not resolved (syntax only)"))
                  << "\n";
        if (a.takeover) {
            std::cout << "  Airflow takeover: on; the winner of a term closes out the previous "
                         "holder's running";
            for (std::size_t i = 0; i < a.job_types.size(); ++i)
                std::cout << (i ? ", " : " ") << a.job_types[i];
            std::cout << " jobs (its hostname from airflow.hostnames, else its node row), "
                      << "timeout " << ms(a.takeover_timeout) << "\n";
        } else {
            std::cout << "  Airflow takeover: off (airflow.takeover.enabled false)\n";
        }
    } else {
        std::cout << "  Airflow takeover: off (no process runs an Airflow scheduler, "
                     "dag-processor or triggerer, and no airflow section)\n";
    }
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
            const auto* http = std::get_if<config::HttpHealth>(&h.check);
            std::string target = http ? " " + http->url : std::string();
            if (const auto* db = std::get_if<config::AirflowDbHealth>(&h.check)) {
                std::string name = db->hostname;
                if (name.empty() && host_checks)
                    name = airflow::airflow_fqdn(airflow::system_lookup());
                target = " " + db->job_type + " of host " +
                         (name.empty() ? std::string("(resolved on the host)") : name);
            }
            std::cout << "    health " << config::to_string(h.kind()) << target << ": every "
                      << ms(h.interval) << ", timeout " << ms(h.timeout) << ", killed after "
                      << h.failure_threshold << " failures in a row (at the earliest "
                      << ms(h.interval * h.failure_threshold) << "), start period "
                      << ms(h.start_period) << "\n";
        }
    }
    return 0;
}

}  // namespace af::cli
