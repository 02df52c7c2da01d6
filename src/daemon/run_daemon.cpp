#include "af/daemon/run_daemon.hpp"

#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <nlohmann/json.hpp>

#include "af/adapters/boot_clock_port.hpp"
#include "af/adapters/os_processes.hpp"
#include "af/adapters/pg_store.hpp"
#include "af/airflow/job_hostname.hpp"
#include "af/airflow/takeover_worker.hpp"
#include "af/daemon/daemon.hpp"
#include "af/daemon/status_outputs.hpp"
#include "af/guard/guard_link.hpp"
#include "af/hooks/hook_runner.hpp"
#include "af/metrics/http_server.hpp"
#include "af/metrics/metrics.hpp"
#include "af/net/heartbeat_service.hpp"
#include "af/util/sd_notify.hpp"
#include "af/version.hpp"

namespace af::daemon {

namespace {

std::string hostname() {
    char buf[256] = {};
    gethostname(buf, sizeof buf - 1);
    return buf;
}

std::string guard_conf(const config::Config& c) {
    return nlohmann::json{{"conninfo", c.database.conninfo},
                          {"schema", c.database.schema},
                          {"cluster", c.cluster},
                          {"node_id", c.node_id}}
        .dump();
}

db::WorkerSettings worker_settings(const config::Config& c) {
    // Resolved once, as Airflow does (its getfqdn is cached per process). Recorded in the node
    // row whenever Airflow's side is configured, so a winner can close out this node's jobs.
    std::string airflow_host;
    if (c.airflow) {
        const auto h = airflow::job_hostname(c, airflow::system_lookup());
        spdlog::info("Airflow records this node's jobs as host {} ({})", h.hostname, h.source);
        airflow_host = h.hostname;
    }
    return {.conninfo = c.database.conninfo,
            .scope = {c.database.schema, c.cluster},
            .node_id = c.node_id,
            .connect_timeout = c.database.connect_timeout,
            .lease = c.lease,
            .stale_after = config::stale_after(c),
            .hostname = hostname(),
            .airflow_hostname = airflow_host,
            .version = k_version,
            .pid = static_cast<int>(getpid()),
            .priority = c.priority,
            .default_process = c.processes.empty() ? "" : c.processes.front().name,
            .fence_roles = c.fence_roles};
}

void sd_notify_state(const std::string& state) {
    // systemd wants the monotonic time next to RELOADING=1.
    if (state.rfind("RELOADING=1", 0) == 0)
        sd::notify(state + "\n" + sd::monotonic_usec_field());
    else
        sd::notify(state);
}

/// Everything the production daemon owns, in construction order (destroyed in reverse).
struct Runtime {
    explicit Runtime(const config::Config& cfg)
        : signals(io, SIGTERM, SIGINT, SIGHUP),
          clock(io),
          store(io, worker_settings(cfg)),
          processes(io, cfg.processes, proc::ChildEnv(cfg.cluster, cfg.node_id)),
          guard(guard_conf(cfg)) {
        signals.add(SIGCHLD);
        signals.add(SIGCONT);
    }

    boost::asio::io_context io;
    boost::asio::signal_set signals;
    adapters::BootClockPort clock;
    adapters::PgStore store;
    adapters::OsProcesses processes;
    guard::GuardLink guard;
    std::unique_ptr<net::HeartbeatService> heartbeat;
    std::unique_ptr<metrics::Metrics> metrics;
    std::unique_ptr<metrics::HttpServer> http;
    std::unique_ptr<airflow::TakeoverWorker> takeover;
    std::unique_ptr<hooks::HookRunner> on_role_change;
    std::unique_ptr<hooks::HookRunner> pre_promote;
    std::unique_ptr<Daemon> daemon;

    void reap() {
        for (;;) {
            int status = 0;
            const pid_t pid = waitpid(-1, &status, WNOHANG);
            if (pid <= 0)
                break;
            if (guard.on_reaped(pid))
                continue;
            if (on_role_change && on_role_change->on_reaped(pid, status))
                continue;
            if (pre_promote && pre_promote->on_reaped(pid, status))
                continue;
            processes.on_reaped(pid, status);  // else: an adopted orphan of a group
        }
    }

    void await_signal(const std::string& config_path) {
        signals.async_wait([this, config_path](const boost::system::error_code& ec, int sig) {
            if (ec)
                return;
            switch (sig) {
                case SIGTERM:
                    daemon->stop_requested("SIGTERM");
                    break;
                case SIGINT:
                    daemon->stop_requested("SIGINT");
                    break;
                case SIGCHLD:
                    reap();
                    break;
                case SIGCONT:
                    daemon->resumed();
                    break;
                case SIGHUP:
                    daemon->reload([&config_path] { return config::load_config(config_path); });
                    break;
                default:
                    break;
            }
            if (!daemon->done())
                await_signal(config_path);
        });
    }
};

}  // namespace

int run_daemon(config::Config cfg, std::string config_path) {
    auto rt = std::make_unique<Runtime>(cfg);
    Extras x;
    x.notify = sd_notify_state;
    if (cfg.heartbeat) {
        rt->heartbeat = std::make_unique<net::HeartbeatService>(
            rt->io, *cfg.heartbeat, cfg.cluster, cfg.node_id, cfg.priority,
            net::load_key(*cfg.heartbeat),
            [r = rt.get()] {
                return heartbeat_snapshot(r->daemon->status(), r->store.counters(), r->clock.now());
            },
            [r = rt.get()](const net::Heartbeat& hb) {
                r->daemon->feed(core::ev::peer_heartbeat{
                    .node = hb.node_id,
                    .active = hb.role == net::WireRole::active,
                    .standby = hb.role == net::WireRole::standby,
                    .term = hb.term,
                    .priority = hb.priority,
                    .releasing = (hb.flags & net::Heartbeat::k_releasing) != 0,
                    .healthy = (hb.flags & net::Heartbeat::k_healthy) != 0});
            });
        x.heartbeat = rt->heartbeat.get();
    }
    if (cfg.airflow && cfg.airflow->takeover) {
        rt->takeover = std::make_unique<airflow::TakeoverWorker>(
            *cfg.airflow,
            airflow::TakeoverWorker::NodeRows{cfg.database.conninfo,
                                              {cfg.database.schema, cfg.cluster}},
            cfg.database.connect_timeout, [r = rt.get()](core::Event e) {
                boost::asio::post(r->io, [r, e = std::move(e)] { r->daemon->feed(e); });
            });
        x.takeover = rt->takeover.get();
    }
    if (cfg.hooks.on_role_change) {
        // Only the newest role change matters: a waiting one is replaced, never told late.
        rt->on_role_change = std::make_unique<hooks::HookRunner>(
            rt->io, "on_role_change", *cfg.hooks.on_role_change, 64, true);
        x.on_role_change = rt->on_role_change.get();
    }
    if (cfg.hooks.pre_promote) {
        rt->pre_promote =
            std::make_unique<hooks::HookRunner>(rt->io, "pre_promote", *cfg.hooks.pre_promote);
        x.pre_promote = rt->pre_promote.get();
    }
    if (cfg.metrics) {
        rt->metrics = std::make_unique<metrics::Metrics>(cfg.cluster, cfg.node_id, k_version);
        x.metrics = rt->metrics.get();
        Runtime* r = rt.get();
        rt->http = std::make_unique<metrics::HttpServer>(
            rt->io,
            std::map<std::string, metrics::HttpServer::Handler>{
                {"/metrics",
                 [r] {
                     return metrics::HttpServer::Response{
                         200, metrics::k_text_format,
                         r->metrics->render(metrics_snapshot(r->daemon->status(),
                                                             r->store.counters(),
                                                             r->heartbeat.get(), r->clock.now()))};
                 }},
                {"/healthz", [r] { return healthz(r->daemon->status(), r->clock.now(), false); }},
                {"/healthz/active",
                 [r] { return healthz(r->daemon->status(), r->clock.now(), true); }}});
    }
    // The loop check steps the core and, only if that went well, pings the systemd watchdog;
    // with WatchdogSec=10s it runs every second (at most every WatchdogSec/2).
    const auto watchdog = sd::watchdog_interval();
    x.watchdog = watchdog.count() > 0;
    if (x.watchdog)
        x.loop_interval =
            std::min(Duration{1000},
                     std::max(Duration{10}, std::chrono::duration_cast<Duration>(watchdog / 2)));
    else if (rt->http)
        x.loop_interval = Duration{1000};
    x.on_done = [r = rt.get()] {
        r->signals.cancel();
        if (r->http)
            r->http->stop();
    };
    rt->daemon = std::make_unique<Daemon>(
        cfg, Ports{rt->clock, rt->store, rt->store, rt->processes, rt->guard}, std::move(x));

    // Orphans of our process groups are reparented to us, so we can tell when a group is empty.
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    signal(SIGPIPE, SIG_IGN);
    // Bind the metrics port first: a port in use fails the start before anything runs.
    if (rt->http)
        rt->http->start(cfg.metrics->listen_host, cfg.metrics->listen_port);
    if (rt->takeover)
        rt->takeover->start();
    if (rt->heartbeat)
        rt->heartbeat->start();
    rt->await_signal(config_path);
    rt->daemon->start();
    // Returns once every part has closed its work after the daemon's exit.
    rt->io.run();
    return rt->daemon->exit_code();
}

}  // namespace af::daemon
