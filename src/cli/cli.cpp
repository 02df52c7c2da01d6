// The command line: one CLI11 subcommand per command, each with its own options and help;
// an option a command does not take is refused by that command.
#include "af/cli/cli.hpp"

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <thread>

#include "af/cli/admin_cmds.hpp"
#include "af/cli/check_config_cmd.hpp"
#include "af/cli/cli_common.hpp"
#include "af/cli/cluster_cmds.hpp"
#include "af/cli/operator_cmds.hpp"
#include "af/config/config.hpp"
#include "af/daemon/run_daemon.hpp"
#include "af/guard/guard_main.hpp"
#include "af/util/log.hpp"
#include "af/version.hpp"

namespace af::cli {

namespace {

// CLI11's PositiveNumber says "Value 0 not in range 0.000000 to 1.797...e308": name the rule.
const CLI::Validator k_positive(
    [](std::string& s) -> std::string {
        char* end = nullptr;
        const double v = std::strtod(s.c_str(), &end);
        if (s.empty() || *end != '\0' || !(v > 0))
            return "must be a number greater than 0, got '" + s + "'";
        return {};
    },
    "POSITIVE");

constexpr const char* k_description =
    "Keeps exactly one Apache Airflow scheduler running across several hosts, elected through a "
    "lease row in PostgreSQL. Exit codes of the commands that read the cluster: 0 healthy "
    "active (or done), 1 no active node (or refused), 2 cannot tell (bad arguments, config, "
    "database error).";

struct Args {
    std::string config;
    bool json{false};
    std::optional<std::string> to;
    double timeout_s{30};
    int limit{20};
    double watch_s{0};
    std::optional<std::string> conninfo;
    std::optional<std::string> daemon_role;
    std::optional<std::string> operator_role;
    std::optional<std::string> dashboard_role;
    std::optional<std::string> airflow_role;
    std::optional<std::string> at;
    bool cancel{false};
    bool stop_processes{false};
    bool syntax_only{false};
    std::optional<std::string> environment_file;
    std::string reason;
    std::string expires{"1h"};
    std::string process;
    std::optional<std::string> node;
    bool force{false};
    bool yes{false};
    int older_than_days{0};
};

/// The options every command that reads the config takes.
void add_config(CLI::App* app, Args& a) {
    app->add_option("--config", a.config,
                    "the node's JSON config, or an operator's (cluster and database only)")
        ->envname("AIRFLOW_FAILOVER_CONFIG")
        ->type_name("FILE");
}

void add_json(CLI::App* app, Args& a, const char* what) {
    app->add_flag("--json", a.json, what);
}

constexpr const char* k_json_generic =
    "print one JSON object: {\"command\", \"exit_code\", \"output\": [lines], \"errors\": [lines]}";

/// For the commands without a JSON form of their own: what they print, as one JSON object.
int as_json(const std::string& command, const std::function<int()>& run) {
    std::ostringstream out, err;
    auto* old_out = std::cout.rdbuf(out.rdbuf());
    auto* old_err = std::cerr.rdbuf(err.rdbuf());
    int code = k_exit_unknown;
    try {
        code = run();
    } catch (...) {
        std::cout.rdbuf(old_out);
        std::cerr.rdbuf(old_err);
        throw;
    }
    std::cout.rdbuf(old_out);
    std::cerr.rdbuf(old_err);
    auto lines = [](const std::string& text) {
        auto arr = nlohmann::json::array();
        std::istringstream in(text);
        for (std::string line; std::getline(in, line);)
            arr.push_back(line);
        return arr;
    };
    std::cout << nlohmann::json{{"command", command},
                                {"exit_code", code},
                                {"output", lines(out.str())},
                                {"errors", lines(err.str())}}
                     .dump()
              << "\n";
    return code;
}

int watch_status(const config::Config& c, bool json, double every_s) {
    // Until Ctrl-C (SIGINT ends the process as usual); a sleep between reads, never a spin.
    const bool tty = isatty(STDOUT_FILENO) != 0;
    for (;;) {
        if (tty && !json)
            std::cout << "\033[H\033[2J";
        const int code = cmd_status(c, json);
        if (!json)
            std::cout << "(every " << every_s << " s, exit code now " << code
                      << "; Ctrl-C to stop)\n";
        std::cout << std::flush;
        std::this_thread::sleep_for(std::chrono::duration<double>(every_s));
    }
}

}  // namespace

int main(const std::vector<std::string>& argv) {
    // The guard is started by the daemon with its pipe on fd 3; it takes no config.
    if (!argv.empty() && argv[0] == "guard")
        return guard::guard_main(3);

    Args a;
    a.config = "/etc/airflow-failover/config.json";
    CLI::App app{k_description, "airflow-failover"};
    app.set_version_flag("--version", std::string("airflow-failover ") + k_version);
    app.require_subcommand(1);
    add_config(&app, a);
    app.footer(
        "Run `airflow-failover COMMAND --help` for a command's options. The config defaults to "
        "$AIRFLOW_FAILOVER_CONFIG, else /etc/airflow-failover/config.json. See "
        "/usr/share/doc/airflow-failover/operations.md.");

    auto* run = app.add_subcommand(
        "run", "run the daemon on this node (foreground; systemd runs it as a service)");
    add_config(run, a);

    auto* status = app.add_subcommand(
        "status",
        "show the cluster: active node, term, lease time left, every node; exit 0 "
        "healthy active, 1 no active, 2 cannot tell");
    add_config(status, a);
    add_json(status, a, "machine-readable");
    status
        ->add_option("--watch", a.watch_s,
                     "print it again every SEC seconds (default 2) until Ctrl-C")
        ->expected(0, 1)
        ->default_str("2")
        ->type_name("SEC")
        ->check(CLI::Range(0.1, 3600.0));

    auto* history = app.add_subcommand(
        "history", "the terms of the lease: holder, start, end, how each ended, takeover gap");
    add_config(history, a);
    add_json(history, a, "machine-readable");
    history->add_option("--limit", a.limit, "the last N terms (default 20)")
        ->type_name("N")
        ->check(k_positive);

    auto* init_db = app.add_subcommand(
        "init-db",
        "create or upgrade the daemon's schema (the daemon also does this at start); "
        "grant roles");
    add_config(init_db, a);
    add_json(init_db, a, k_json_generic);
    init_db
        ->add_option("--conninfo", a.conninfo,
                     "connect as this (an administrator) instead of the config's "
                     "database.conninfo")
        ->type_name("STR");
    init_db
        ->add_option("--daemon-role", a.daemon_role,
                     "the daemon's database role: it gets the schema, and with "
                     "fencing.database_roles a SECURITY DEFINER fencing function; the "
                     "administrator keeps the events table")
        ->type_name("ROLE");
    init_db
        ->add_option("--operator-role", a.operator_role,
                     "may run status, history, pause, resume, switchover, restart, remove and "
                     "failover for this cluster, nothing else")
        ->type_name("ROLE");
    init_db
        ->add_option("--dashboard-role", a.dashboard_role,
                     "the dashboard's (webapp): reads this cluster, requests terminate for it, "
                     "nothing else")
        ->type_name("ROLE");
    init_db
        ->add_option("--airflow-role", a.airflow_role,
                     "the role of airflow.conninfo: SELECT and UPDATE (state, end_date) on "
                     "Airflow's job table")
        ->type_name("ROLE");

    auto* check =
        app.add_subcommand("check-config",
                           "validate the config and everything `run` would refuse at start (the "
                           "heartbeat secret, listen ports, commands on the daemon's PATH, health "
                           "URLs); print the effective timings; exit 0 if `run` would start");
    add_config(check, a);
    add_json(check, a, k_json_generic);
    check->add_flag("--syntax-only", a.syntax_only, "the file alone, not this host (CI)");
    check
        ->add_option("--environment-file", a.environment_file,
                     "the unit's EnvironmentFile (PATH=... lines) to search commands with, as "
                     "the service would (default: /etc/default/airflow-failover when it exists)")
        ->type_name("FILE");

    auto* switchover = app.add_subcommand(
        "switchover",
        "planned hand-over: the active stops its processes, releases the lease and "
        "the target (or the best standby) takes over; waits for the outcome");
    add_config(switchover, a);
    add_json(switchover, a, k_json_generic);
    auto* sw_to = switchover->add_option("--to", a.to, "hand over to this healthy standby")
                      ->type_name("NODE");
    auto* sw_timeout =
        switchover
            ->add_option("--timeout", a.timeout_s, "how long to wait for the outcome (default 30)")
            ->type_name("SEC")
            ->check(k_positive);
    auto* sw_at = switchover
                      ->add_option("--at", a.at,
                                   "schedule it instead: 2026-12-01T02:00:00Z (an offset is "
                                   "required; read by PostgreSQL) or +30s, +15m; judged on the "
                                   "database clock")
                      ->type_name("TIME");
    switchover->add_flag("--cancel", a.cancel, "cancel every scheduled switchover")
        ->excludes(sw_to)
        ->excludes(sw_at)
        ->excludes(sw_timeout);
    sw_at->excludes(sw_timeout);

    auto* pause = app.add_subcommand(
        "pause",
        "maintenance mode for the whole cluster: the active keeps its lease, no standby "
        "takes over, no process is restarted or killed for its health");
    add_config(pause, a);
    add_json(pause, a, k_json_generic);
    pause->add_option("--reason", a.reason, "shown in status, the dashboard and the events")
        ->type_name("TEXT");
    pause->add_flag("--stop-processes", a.stop_processes,
                    "also stop the managed processes until resume");
    pause
        ->add_option("--expires", a.expires,
                     "end the pause by itself after IN (30m, 2h; default 1h; \"never\": only "
                     "resume ends it)")
        ->type_name("IN");

    auto* resume = app.add_subcommand(
        "resume", "end maintenance mode at once (a free lease is taken at once)");
    add_config(resume, a);
    add_json(resume, a, k_json_generic);

    auto* restart = app.add_subcommand(
        "restart",
        "restart a managed process in place on the active node (graceful stop, then "
        "start; the node keeps its lease and no crash is counted)");
    add_config(restart, a);
    add_json(restart, a, k_json_generic);
    restart->add_option("PROCESS", a.process, "the process's name (processes[].name)")->required();
    restart
        ->add_option("--node", a.node, "the node it runs on (refused unless it is the active node)")
        ->type_name("NODE");
    restart->add_option("--timeout", a.timeout_s, "how long to wait for the answer (default 30)")
        ->type_name("SEC")
        ->check(k_positive);

    auto* remove = app.add_subcommand(
        "remove",
        "delete a decommissioned node's row (refused while the node holds the lease "
        "or was seen lately: stop its daemon first)");
    add_config(remove, a);
    add_json(remove, a, k_json_generic);
    remove->add_option("NODE", a.process, "the node's id")->required();

    auto* failover = app.add_subcommand(
        "failover",
        "make NODE active when no healthy active exists (refused while one does, "
        "unless --force); asks for confirmation unless --yes");
    add_config(failover, a);
    add_json(failover, a, k_json_generic);
    failover->add_option("--to", a.to, "the healthy standby to make active")
        ->type_name("NODE")
        ->required();
    failover->add_flag("--force", a.force, "even while a healthy active exists");
    failover->add_flag("--yes,-y", a.yes, "do not ask for confirmation");
    failover->add_option("--timeout", a.timeout_s, "how long to wait (default 30)")
        ->type_name("SEC")
        ->check(k_positive);

    auto* events = app.add_subcommand("events", "the events table (an append-only audit log)");
    events->require_subcommand(1);
    auto* prune = events->add_subcommand(
        "prune",
        "delete this cluster's events older than DAYS (at least 1), the one delete the "
        "append-only rule lets through; needs the events table's owner");
    add_config(prune, a);
    add_json(prune, a, k_json_generic);
    prune->add_option("--older-than", a.older_than_days, "age in days (>= 1)")
        ->type_name("DAYS")
        ->required()
        ->check(CLI::Range(1, 36500));
    prune
        ->add_option("--conninfo", a.conninfo,
                     "connect as this (the events table's owner) instead of database.conninfo")
        ->type_name("STR");

    // An unknown command is named as such, not as an unexpected argument.
    std::vector<std::string> rev(argv.rbegin(), argv.rend());
    for (std::size_t i = 0; i < argv.size(); ++i) {
        const std::string& s = argv[i];
        if (s == "--config") {
            ++i;
            continue;
        }
        if (s.empty() || s[0] == '-')
            continue;
        const auto known = app.get_subcommands([&](CLI::App* sc) { return sc->check_name(s); });
        if (known.empty()) {
            std::cerr << "airflow-failover: unknown command '" << s
                      << "'; run `airflow-failover --help` for the list\n";
            return k_exit_unknown;
        }
        break;
    }
    try {
        app.parse(std::move(rev));
    } catch (const CLI::Success& e) {
        return app.exit(e);  // --help, --version
    } catch (const CLI::ParseError& e) {
        app.exit(e);
        return k_exit_unknown;
    }

    CLI::App* cmd = app.get_subcommands().front();
    std::string name = cmd->get_name();
    if (cmd == events) {
        cmd = prune;
        name = "events prune";
    }
    const bool operator_cmd = cmd == status || cmd == history || cmd == pause || cmd == resume ||
                              cmd == switchover || cmd == restart || cmd == remove ||
                              cmd == failover;
    config::Config cfg;
    try {
        cfg = load_cli_config(a.config, operator_cmd);
    } catch (const config::ConfigError& e) {
        if (a.json && cmd != status)
            return as_json(name, [&] {
                std::cerr << "config error: " << e.what() << "\n";
                return k_exit_unknown;
            });
        std::cerr << "airflow-failover: config error: " << e.what() << "\n";
        return k_exit_unknown;
    }
    auto dispatch = [&]() -> int {
        if (cmd == check)
            return cmd_check_config(cfg, !a.syntax_only, a.environment_file, a.config);
        if (cmd == init_db) {
            const int rc =
                cmd_init_db(cfg, a.conninfo, a.daemon_role, a.operator_role, a.dashboard_role);
            return rc != 0 || !a.airflow_role ? rc
                                              : cmd_grant_airflow(cfg, a.conninfo, *a.airflow_role);
        }
        if (cmd == switchover) {
            if (a.cancel)
                return cmd_switchover_cancel(cfg);
            if (a.at)
                return cmd_switchover_at(cfg, a.to, parse_at("--at", *a.at));
            return cmd_switchover(cfg, a.to, a.timeout_s);
        }
        if (cmd == pause)
            return cmd_pause(cfg, a.stop_processes, a.reason,
                             a.expires == "never"
                                 ? std::nullopt
                                 : std::optional(parse_duration_ms("--expires", a.expires)));
        if (cmd == resume)
            return cmd_resume(cfg);
        if (cmd == restart)
            return cmd_restart(cfg, a.process, a.node, a.timeout_s);
        if (cmd == remove)
            return cmd_remove(cfg, a.process);
        if (cmd == failover)
            return cmd_failover(cfg, *a.to, a.force, a.yes, a.timeout_s);
        if (cmd == prune)
            return cmd_events_prune(cfg, a.older_than_days, a.conninfo);
        return k_exit_unknown;
    };
    try {
        if (cmd == status)
            return status->count("--watch") > 0 ? watch_status(cfg, a.json, a.watch_s)
                                                : cmd_status(cfg, a.json);
        if (cmd == history)
            return cmd_history(cfg, a.json, a.limit);
        if (cmd == run) {
            setup_logging(cfg.log.level, cfg.log.format, cfg.node_id);
            return daemon::run_daemon(std::move(cfg), a.config);
        }
        return a.json ? as_json(name, dispatch) : dispatch();
    } catch (const TimeArgError& e) {
        std::cerr << "airflow-failover " << name << ": " << e.what() << "\n";
        return k_exit_unknown;
    }
}

}  // namespace af::cli
