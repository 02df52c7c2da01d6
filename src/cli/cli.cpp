#include "af/cli/cli.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <optional>
#include <pqxx/pqxx>
#include <thread>

#include "af/cli/check_config_cmd.hpp"
#include "af/cli/cli_common.hpp"
#include "af/cli/cluster_cmds.hpp"
#include "af/cli/operator_cmds.hpp"
#include "af/config/config.hpp"
#include "af/core/command_kind.hpp"
#include "af/daemon/run_daemon.hpp"
#include "af/db/cluster_view.hpp"
#include "af/db/command_sql.hpp"
#include "af/db/connection.hpp"
#include "af/db/fencing_sql.hpp"
#include "af/db/history_sql.hpp"
#include "af/db/migrations.hpp"
#include "af/guard/guard_main.hpp"
#include "af/util/log.hpp"
#include "af/version.hpp"

namespace af::cli {

namespace {

constexpr const char* k_usage = R"(usage: airflow-failover COMMAND [--config FILE] [options]

Keeps exactly one Apache Airflow scheduler running across several hosts, elected through a
lease row in PostgreSQL.

commands:
  run            run the daemon on this node (foreground; systemd runs it as a service)
  status         show the cluster: active node, term, lease time left, every node
                   --json   machine-readable; exit 0 healthy active, 1 no active, 2 cannot tell
  history        the terms of the lease: holder, start, end, how each ended, takeover gap
                   --json   machine-readable    --limit N   the last N terms (default 20)
  init-db        create or upgrade the daemon's schema (the daemon also does this at start)
                   --conninfo STR      connect as this (an administrator) instead of the
                                       config's database.conninfo
                   --daemon-role ROLE  the daemon's database role: it gets the schema, and
                                       with fencing.database_roles a SECURITY DEFINER fencing
                                       function (so it needs no CREATEROLE); Airflow's roles
                                       get no rights on the schema
                   --operator-role ROLE  may run status, history, pause, resume and
                                       switchover for this cluster, nothing else
                   --dashboard-role ROLE  the dashboard's (webapp): reads this cluster,
                                       requests terminate for it, nothing else
                   --airflow-role ROLE the role of airflow.conninfo: SELECT and UPDATE
                                       (state, end_date) on Airflow's job table, for the
                                       takeover step and the airflow-db health checks
  check-config   validate the config file and everything `run` would refuse at start (the
                 heartbeat secret file, free listen ports, commands on PATH, health URLs);
                 print the effective timings
                   --syntax-only  the file alone, not this host (CI, a build host)
  switchover     planned hand-over: the active stops its processes, releases the lease and
                 the target (or the best standby) takes over; waits and prints the outcome
                   --to NODE      hand over to this standby (refused if unknown or unhealthy)
                   --timeout SEC  how long to wait for the outcome (default 30)
                   --at TIME      schedule it instead: 2026-12-01T02:00:00Z (an offset is
                                  required) or +30s, +15m; judged on the database clock
                   --cancel       cancel every scheduled switchover
  pause          maintenance mode for the whole cluster: the active keeps its lease, no
                 standby takes over, no process is restarted or killed for its health
                   --reason TEXT     shown in status, the dashboard and the events
                   --stop-processes  also stop the managed processes until resume
                   --expires IN      end the pause by itself after IN (30m, 2h; default 1h;
                                     "never": only resume ends it)
  resume         end maintenance mode at once (a free lease is taken at once)

options:
  --config FILE  the node's JSON config (default: $AIRFLOW_FAILOVER_CONFIG or
                 /etc/airflow-failover/config.json)
  --version      print the version
  --help         print this help
)";

struct Args {
    std::string command;
    std::string config;
    bool json{false};
    std::optional<std::string> to;
    double timeout_s{30};
    int limit{20};
    std::optional<std::string> conninfo;        ///< init-db: connect as an administrator
    std::optional<std::string> daemon_role;     ///< init-db: the role the daemon logs in as
    std::optional<std::string> operator_role;   ///< init-db: the CLI's operators' role
    std::optional<std::string> dashboard_role;  ///< init-db: the dashboard's role
    std::optional<std::string> at;              ///< switchover --at
    bool cancel{false};                         ///< switchover --cancel
    bool stop_processes{false};                 ///< pause
    bool syntax_only{false};                    ///< check-config
    std::string reason;                         ///< pause
    std::optional<std::string> expires;         ///< pause

    std::optional<std::string> airflow_role;  ///< init-db: the role of airflow.conninfo
};

std::optional<Args> parse(const std::vector<std::string>& argv, int& exit_code) {
    Args a;
    if (const char* env = std::getenv("AIRFLOW_FAILOVER_CONFIG"))
        a.config = env;
    if (a.config.empty())
        a.config = "/etc/airflow-failover/config.json";
    for (std::size_t i = 0; i < argv.size(); ++i) {
        const std::string& s = argv[i];
        if (s == "--help" || s == "-h") {
            std::cout << k_usage;
            exit_code = 0;
            return std::nullopt;
        }
        if (s == "--version") {
            std::cout << "airflow-failover " << k_version << "\n";
            exit_code = 0;
            return std::nullopt;
        }
        if (s == "--config" || s.rfind("--config=", 0) == 0) {
            if (s == "--config") {
                if (i + 1 >= argv.size()) {
                    std::cerr << "airflow-failover: --config needs a file\n";
                    exit_code = k_exit_unknown;
                    return std::nullopt;
                }
                a.config = argv[++i];
            } else {
                a.config = s.substr(9);
            }
        } else if (s == "--json") {
            a.json = true;
        } else if (s == "--cancel" || s == "--stop-processes" || s == "--syntax-only") {
            (s == "--cancel"           ? a.cancel
             : s == "--stop-processes" ? a.stop_processes
                                       : a.syntax_only) = true;
        } else if ((s == "--at" || s == "--reason" || s == "--expires") && i + 1 < argv.size()) {
            if (s == "--reason")
                a.reason = argv[++i];
            else
                (s == "--at" ? a.at : a.expires) = argv[++i];
        } else if (s == "--operator-role" && i + 1 < argv.size()) {
            a.operator_role = argv[++i];
        } else if (s == "--dashboard-role" && i + 1 < argv.size()) {
            a.dashboard_role = argv[++i];
        } else if ((s == "--conninfo" || s == "--daemon-role") && i + 1 < argv.size()) {
            (s == "--conninfo" ? a.conninfo : a.daemon_role) = argv[++i];
        } else if (s == "--airflow-role" && i + 1 < argv.size()) {
            a.airflow_role = argv[++i];
        } else if ((s == "--to" || s == "--timeout") && i + 1 < argv.size()) {
            if (s == "--to") {
                a.to = argv[++i];
            } else {
                try {
                    a.timeout_s = std::stod(argv[++i]);
                } catch (const std::exception&) {
                    std::cerr << "airflow-failover: --timeout needs seconds, got '" << argv[i]
                              << "'\n";
                    exit_code = k_exit_unknown;
                    return std::nullopt;
                }
            }
        } else if (s == "--limit" && i + 1 < argv.size()) {
            try {
                std::size_t used = 0;
                a.limit = std::stoi(argv[++i], &used);
                if (used != argv[i].size() || a.limit < 1)
                    throw std::invalid_argument("not positive");
            } catch (const std::exception&) {
                std::cerr << "airflow-failover: --limit needs a whole number of terms >= 1, got '"
                          << argv[i] << "'\n";
                exit_code = k_exit_unknown;
                return std::nullopt;
            }
        } else if (!s.empty() && s[0] != '-' && a.command.empty()) {
            a.command = s;
        } else {
            std::cerr << "airflow-failover: unknown argument '" << s << "'\n" << k_usage;
            exit_code = k_exit_unknown;
            return std::nullopt;
        }
    }
    if (a.command.empty()) {
        std::cerr << k_usage;
        exit_code = k_exit_unknown;
        return std::nullopt;
    }
    return a;
}

int cmd_switchover(const config::Config& c, const std::optional<std::string>& to,
                   double timeout_s) {
    try {
        auto conn = open_for_operator(c);
        const db::ClusterView before = db::read_cluster(*conn, c.database.schema, c.cluster);
        if (!before.active) {
            std::cerr << "switchover refused: cluster " << c.cluster << " has no active node\n";
            return k_exit_no_active;
        }
        if (to) {
            const auto it = std::find_if(before.nodes.begin(), before.nodes.end(),
                                         [&](const db::NodeView& n) { return n.node_id == *to; });
            if (it == before.nodes.end()) {
                std::cerr << "switchover refused: unknown node '" << *to << "' in cluster "
                          << c.cluster << "\n";
                return k_exit_no_active;
            }
            if (*to == *before.active) {
                std::cout << *to << " is already active (term " << before.term << ")\n";
                return k_exit_healthy;
            }
            if (it->stale || it->role != "standby") {
                std::cerr << "switchover refused: " << *to << " is not a healthy standby (role "
                          << it->role << ", last seen " << age_text(it->last_seen_age_ms)
                          << " ago)\n";
                return k_exit_no_active;
            }
        }
        db::CommandSql commands(c.database.schema, c.cluster, c.node_id);
        const auto started = std::chrono::steady_clock::now();
        // Meant for the active the operator is told about: should another node take over
        // before it is carried out, the command is closed as stale, not run by the newcomer.
        const auto requested =
            commands.insert(*conn, std::string(to_string(core::CommandKind::switchover)), to,
                            requester(*conn), db::CommandTarget{*before.active, before.term});
        if (!requested) {
            std::cerr << "switchover refused: " << *before.active << " no longer holds the lease "
                      << "in term " << before.term << "\n";
            return k_exit_no_active;
        }
        const std::int64_t id = *requested;
        std::cout << "switchover requested (command " << id << "): " << *before.active << " (term "
                  << before.term << ") -> " << to.value_or("the best standby") << "\n";
        const auto deadline = started + std::chrono::duration<double>(timeout_s);
        std::optional<std::string> result;
        while (std::chrono::steady_clock::now() < deadline) {
            if (!result) {
                result = commands.result(*conn, id);
                if (result &&
                    (result->rfind("refused", 0) == 0 || result->rfind("stale", 0) == 0)) {
                    std::cerr << "switchover " << *result << "\n";
                    return k_exit_no_active;
                }
            }
            const db::ClusterView now = db::read_cluster(*conn, c.database.schema, c.cluster);
            if (now.active && *now.active != *before.active && now.term > before.term) {
                const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                    std::chrono::steady_clock::now() - started)
                                    .count();
                std::cout << "switchover done: " << *now.active << " is active in term " << now.term
                          << " (" << ms << " ms after the request)\n";
                if (to && *now.active != *to) {
                    std::cerr << "but the target was " << *to << "\n";
                    return k_exit_no_active;
                }
                return k_exit_healthy;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
        std::cerr << "switchover: no new active node within " << timeout_s << " s"
                  << (result ? " (command: " + *result + ")" : "") << "\n";
        return k_exit_no_active;
    } catch (const std::exception& e) {
        std::cerr << "airflow-failover switchover: " << e.what() << "\n";
        return k_exit_unknown;
    }
}

int operator_command(const config::Config& c, const Args& a) {
    try {
        if (a.command == "resume")
            return cmd_resume(c);
        if (a.command == "pause")
            return cmd_pause(c, a.stop_processes, a.reason,
                             a.expires == "never" ? std::nullopt
                                                  : std::optional(parse_duration_ms(
                                                        "--expires", a.expires.value_or("1h"))));
        if (a.cancel)
            return cmd_switchover_cancel(c);
        if (a.at)
            return cmd_switchover_at(c, a.to, parse_at("--at", *a.at));
        return cmd_switchover(c, a.to, a.timeout_s);
    } catch (const TimeArgError& e) {
        std::cerr << "airflow-failover " << a.command << ": " << e.what() << "\n";
        return k_exit_unknown;
    }
}

}  // namespace

int main(const std::vector<std::string>& argv) {
    int code = 0;
    // The guard is started by the daemon with its pipe on fd 3; it takes no config.
    if (!argv.empty() && argv[0] == "guard")
        return guard::guard_main(3);
    const auto args = parse(argv, code);
    if (!args)
        return code;
    const std::string& cmd = args->command;
    if (cmd != "run" && cmd != "status" && cmd != "init-db" && cmd != "check-config" &&
        cmd != "switchover" && cmd != "history" && cmd != "pause" && cmd != "resume") {
        std::cerr << "airflow-failover: unknown command '" << cmd << "'\n" << k_usage;
        return k_exit_unknown;
    }
    config::Config cfg;
    try {
        cfg = load_cli_config(args->config, cmd == "status" || cmd == "history" || cmd == "pause" ||
                                                cmd == "resume" || cmd == "switchover");
    } catch (const config::ConfigError& e) {
        std::cerr << "airflow-failover: config error: " << e.what() << "\n";
        return k_exit_unknown;
    }
    if (cmd == "check-config")
        return cmd_check_config(cfg, !args->syntax_only);
    if (cmd == "status")
        return cmd_status(cfg, args->json);
    if (cmd == "init-db") {
        const int rc = cmd_init_db(cfg, args->conninfo, args->daemon_role, args->operator_role,
                                   args->dashboard_role);
        return rc != 0 || !args->airflow_role
                   ? rc
                   : cmd_grant_airflow(cfg, args->conninfo, *args->airflow_role);
    }
    if (cmd == "history")
        return cmd_history(cfg, args->json, args->limit);
    if (cmd == "pause" || cmd == "resume" || cmd == "switchover")
        return operator_command(cfg, *args);
    setup_logging(cfg.log.level, cfg.log.format, cfg.node_id);
    return daemon::run_daemon(std::move(cfg), args->config);
}

}  // namespace af::cli
