#include "af/daemon/daemon.hpp"

#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/post.hpp>
#include <nlohmann/json.hpp>

#include "af/core/pause.hpp"
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

}  // namespace

Daemon::Daemon(config::Config cfg, std::string config_path)
    : cfg_(std::move(cfg)),
      config_path_(std::move(config_path)),
      signals_(io_, SIGTERM, SIGINT, SIGHUP),
      timer_(io_),
      publish_timer_(io_),
      core_(cfg_.election(), cfg_.node_id),
      supervisor_(
          io_, cfg_.processes,
          {{"AIRFLOW_FAILOVER_NODE", cfg_.node_id}, {"AIRFLOW_FAILOVER_CLUSTER", cfg_.cluster}},
          [this](const std::string& name, const std::string& how) {
              feed(core::ev::process_exited{name, how});
          },
          [this](const std::string& name, const std::string& why) {
              feed(core::ev::process_unhealthy{name, why});
          }),
      guard_(guard_conf(cfg_)),
      loop_timer_(io_) {
    signals_.add(SIGCHLD);
    signals_.add(SIGCONT);
    db::WorkerSettings ws{
        .conninfo = cfg_.database.conninfo,
        .schema = cfg_.database.schema,
        .cluster = cfg_.cluster,
        .node_id = cfg_.node_id,
        .connect_timeout = cfg_.database.connect_timeout,
        .statement_timeout = cfg_.lease.ttl,
        .ttl = cfg_.lease.ttl,
        .renew_interval = cfg_.lease.renew_interval,
        .fence_margin = cfg_.lease.fence_margin,
        .hostname = hostname(),
        .version = k_version,
        .pid = static_cast<int>(getpid()),
        .priority = cfg_.priority,
        .default_process = cfg_.processes.empty() ? "" : cfg_.processes.front().name,
        .fence_roles = cfg_.fence_roles};
    // Results arrive on the worker thread and are handed to the loop; the core stays
    // single-threaded.
    db_ = std::make_unique<db::DbWorker>(std::move(ws), [this](core::Event e) {
        boost::asio::post(io_, [this, e = std::move(e)] { feed(e); });
    });
    if (cfg_.heartbeat) {
        heartbeat_ = std::make_unique<net::HeartbeatService>(
            io_, *cfg_.heartbeat, cfg_.cluster, cfg_.node_id, cfg_.priority,
            net::load_key(*cfg_.heartbeat), [this] { return heartbeat_snapshot(); },
            [this](const net::Heartbeat& hb) {
                feed(core::ev::peer_heartbeat{
                    .node = hb.node_id,
                    .active = hb.role == 1,
                    .standby = hb.role == 0,
                    .term = hb.term,
                    .priority = hb.priority,
                    .releasing = (hb.flags & net::Heartbeat::k_releasing) != 0,
                    .healthy = (hb.flags & net::Heartbeat::k_healthy) != 0});
            });
    }
    if (cfg_.airflow && cfg_.airflow->takeover)
        takeover_ = std::make_unique<airflow::TakeoverWorker>(
            *cfg_.airflow, cfg_.database.connect_timeout, [this](core::Event e) {
                boost::asio::post(io_, [this, e = std::move(e)] { feed(e); });
            });
    if (cfg_.hooks.on_role_change)
        on_role_change_ =
            std::make_unique<hooks::HookRunner>(io_, "on_role_change", *cfg_.hooks.on_role_change);
    if (cfg_.hooks.pre_promote)
        pre_promote_ =
            std::make_unique<hooks::HookRunner>(io_, "pre_promote", *cfg_.hooks.pre_promote);
    make_warm_pool();
    if (cfg_.metrics) {
        metrics_ = std::make_unique<metrics::Metrics>(cfg_.cluster, cfg_.node_id, k_version);
        http_ = std::make_unique<metrics::HttpServer>(
            io_, std::map<std::string, metrics::HttpServer::Handler>{
                     {"/metrics",
                      [this] {
                          return metrics::HttpServer::Response{
                              200, metrics::k_text_format, metrics_->render(metrics_snapshot())};
                      }},
                     {"/healthz", [this] { return healthz(false); }},
                     {"/healthz/active", [this] { return healthz(true); }}});
    }
}

net::HeartbeatService::Snapshot Daemon::heartbeat_snapshot() const {
    net::HeartbeatService::Snapshot s;
    const core::Role role = core_.role();
    s.role = role == core::Role::active ? 1 : role == core::Role::standby ? 0 : 2;
    s.term = core_.term();
    const bool db_ok = db_->connected();
    if (db_ok)
        s.flags |= net::Heartbeat::k_db_ok;
    // Healthy: an active whose processes all run; a standby that can reach the database.
    const bool healthy =
        role == core::Role::active ? !supervisor_.any_down() : role == core::Role::standby && db_ok;
    if (healthy)
        s.flags |= net::Heartbeat::k_healthy;
    s.incarnation = static_cast<std::uint64_t>(std::max<std::int64_t>(0, db_->incarnation()));
    for (const auto& [node, n] : db_->peer_incarnations())
        s.peer_incarnations[node] = static_cast<std::uint64_t>(std::max<std::int64_t>(0, n));
    if (role == core::Role::active) {
        const auto left = core_.lease_deadline() - boot_clock::now();
        s.lease_remaining_ms = static_cast<std::uint32_t>(
            std::max<long long>(0, std::chrono::duration_cast<Duration>(left).count()));
    }
    return s;
}

Daemon::~Daemon() = default;

int Daemon::run() {
    // Orphans of our process groups are reparented to us, so we can tell when a group is empty.
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    signal(SIGPIPE, SIG_IGN);
    // Bind the metrics port first: a port in use fails the start before anything runs.
    if (http_)
        http_->start(cfg_.metrics->listen_host, cfg_.metrics->listen_port);
    guard_.start();
    db_->start();
    if (takeover_)
        takeover_->start();
    if (heartbeat_)
        heartbeat_->start();
    // The loop check steps the core, and only if that went well pings the systemd watchdog;
    // with WatchdogSec=10s it runs every second (at most every WatchdogSec/2).
    watchdog_ = sd::watchdog_interval();
    if (watchdog_.count() > 0)
        loop_interval_ =
            std::min(Duration{1000},
                     std::max(Duration{10}, std::chrono::duration_cast<Duration>(watchdog_ / 2)));
    if (watchdog_.count() > 0 || http_) {
        const TimePoint due = boot_clock::now() + loop_interval_;
        loop_timer_.expires_at(due);
        loop_timer_.async_wait([this, due](const boost::system::error_code& ec) {
            if (!ec)
                check_loop(due);
        });
    }
    await_signal();
    spdlog::info(
        "airflow-failover {} starting: cluster {}, node {}, lease ttl {} ms, renew every "
        "{} ms, {} managed process(es)",
        k_version, cfg_.cluster, cfg_.node_id, cfg_.lease.ttl.count(),
        cfg_.lease.renew_interval.count(), cfg_.processes.size());
    feed(core::ev::tick{});
    schedule_publish();
    io_.run();
    return exit_code_;
}

void Daemon::feed(const core::Event& e) {
    if (done_)
        return;
    observe(e);
    const core::Ready r = core_.step(e, boot_clock::now());
    for (const auto& a : r.actions)
        execute(a);
    if (done_)
        return;
    // Say so right after releasing, so the best standby takes the lease at once.
    if (const auto* rel = std::get_if<core::ev::release_result>(&e);
        rel && rel->released && heartbeat_)
        heartbeat_->send_now(net::Heartbeat::k_releasing);
    db_->set_active(core_.role() == core::Role::active);
    sync_guard_groups();
    if (core_.role() != last_role_) {
        last_role_ = core_.role();
        publish();
    }
    // READY=1 once the first lease statement was answered (won, lost or failed): the config
    // is parsed, the sockets are bound and the database was contacted. A database that is down
    // at boot still makes the unit ready, with STATUS saying so, rather than a start timeout.
    if (!ready_sent_ && (std::holds_alternative<core::ev::acquire_result>(e) ||
                         std::holds_alternative<core::ev::db_failure>(e))) {
        ready_sent_ = true;
        status_sent_ = status_words();
        sd::notify("READY=1\nSTATUS=" + status_sent_);
    } else {
        update_status();
    }
    arm_timer(r.next_wakeup);
}

void Daemon::sync_guard_groups() {
    const auto g = supervisor_.groups();
    guard_.set_groups({g.begin(), g.end()});
}

void Daemon::arm_timer(TimePoint at) {
    if (at == TimePoint::max()) {
        timer_.cancel();
        return;
    }
    timer_.expires_at(at);
    timer_.async_wait([this](const boost::system::error_code& ec) {
        if (!ec)
            feed(core::ev::tick{});
    });
}

void Daemon::execute(const core::Action& action) {
    std::visit(
        [this](const auto& a) {
            using T = std::decay_t<decltype(a)>;
            if constexpr (std::is_same_v<T, core::act::try_acquire>) {
                db_->acquire(a.min_term);
            } else if constexpr (std::is_same_v<T, core::act::renew>) {
                db_->renew(a.term);
            } else if constexpr (std::is_same_v<T, core::act::release>) {
                db_->release(a.term, a.reserved_for);
            } else if constexpr (std::is_same_v<T, core::act::start_process>) {
                start_process(a.name, a.term, false);
            } else if constexpr (std::is_same_v<T, core::act::warm_start> ||
                                 std::is_same_v<T, core::act::warm_go> ||
                                 std::is_same_v<T, core::act::warm_stop>) {
                execute_warm(a);
            } else if constexpr (std::is_same_v<T, core::act::stop_process>) {
                spdlog::info("stopping {} (SIGTERM to its process group)", a.name);
                supervisor_.signal(a.name, SIGTERM);
            } else if constexpr (std::is_same_v<T, core::act::freeze_process>) {
                spdlog::warn("freezing {} (SIGSTOP to its session): a renewal is late", a.name);
                supervisor_.signal(a.name, SIGSTOP);
            } else if constexpr (std::is_same_v<T, core::act::thaw_process>) {
                spdlog::info("thawing {} (SIGCONT to its session)", a.name);
                supervisor_.signal(a.name, SIGCONT);
            } else if constexpr (std::is_same_v<T, core::act::kill_process>) {
                spdlog::warn("killing {} (SIGKILL to its process group)", a.name);
                supervisor_.signal(a.name, SIGKILL);
            } else if constexpr (std::is_same_v<T, core::act::arm_guard>) {
                sync_guard_groups();
                guard_.arm(a.term, a.deadline);
            } else if constexpr (std::is_same_v<T, core::act::disarm_guard>) {
                guard_.disarm();
            } else if constexpr (std::is_same_v<T, core::act::record>) {
                spdlog::info("{}: {} (term {})", a.kind, a.detail, a.term);
                if (metrics_)
                    metrics_->event(a.kind);
                db_->record(a.kind, a.detail, a.term);
            } else if constexpr (std::is_same_v<T, core::act::command_done>) {
                spdlog::info("command {}: {}", a.id, a.result);
                db_->finish_command(a.id, a.result);
            } else if constexpr (std::is_same_v<T, core::act::take_over>) {
                spdlog::info("takeover: closing out the Airflow jobs of {} (term {})",
                             a.previous_holder, a.term);
                takeover_->take_over(a.term, a.previous_holder);
            } else if constexpr (std::is_same_v<T, core::act::run_pre_promote>) {
                const std::int64_t term = a.term;
                pre_promote_->enqueue(
                    hook_env("pre_promote", "pre_promote", "active", term, a.previous_holder),
                    [this, term](const hooks::Outcome& o) {
                        hook_done("pre_promote", "pre_promote", term, o);
                        feed(core::ev::hook_result{term, o.ok(), "pre_promote " + o.detail});
                    });
            } else if constexpr (std::is_same_v<T, core::act::role_change>) {
                // Queued, never awaited: fencing, takeover and release go on meanwhile.
                on_role_change_->enqueue(
                    hook_env("on_role_change", a.action, a.role, a.term, a.previous_holder),
                    [this, what = a.action, term = a.term](const hooks::Outcome& o) {
                        hook_done("on_role_change", what, term, o);
                    });
            } else if constexpr (std::is_same_v<T, core::act::exit>) {
                exit_code_ = a.code;
                done_ = true;
                if (!stopping_sent_)
                    sd::notify("STOPPING=1");
                stopping_sent_ = true;
                publish();
                if (heartbeat_)
                    heartbeat_->stop();
                guard_.shutdown();
                if (warm_)
                    warm_->shutdown();
                if (takeover_)
                    takeover_->stop();
                // The lease is released: let the last role change (the demote) be told, for a
                // bounded time, before the exit would kill the hook.
                if (on_role_change_)
                    on_role_change_->drain(
                        std::min(cfg_.hooks.on_role_change->timeout, Duration{5000}));
                signals_.cancel();
                timer_.cancel();
                publish_timer_.cancel();
                loop_timer_.cancel();
                if (http_)
                    http_->stop();
                // Give queued event rows a moment to reach the database, then stop.
                db_->stop(Duration{1000});
                spdlog::info("stopped");
                io_.stop();
            }
        },
        action);
}

void Daemon::await_signal() {
    signals_.async_wait([this](const boost::system::error_code& ec, int sig) {
        if (ec)
            return;
        switch (sig) {
            case SIGTERM:
            case SIGINT:
                spdlog::info("received {}; stopping gracefully",
                             sig == SIGTERM ? "SIGTERM" : "SIGINT");
                if (!stopping_sent_)
                    sd::notify("STOPPING=1\nSTATUS=stopping: handing over");
                stopping_sent_ = true;
                feed(core::ev::stop_requested{sig == SIGTERM ? "SIGTERM" : "SIGINT"});
                break;
            case SIGCHLD:
                reap();
                break;
            case SIGCONT:
                // Resumed after a stop: the core checks its deadline before anything else.
                spdlog::warn("resumed after being stopped (SIGCONT)");
                feed(core::ev::tick{});
                break;
            case SIGHUP:
                reload();
                if (warm_)  // the code a warm copy loaded may have changed: replace it
                    warm_->all_stale("SIGHUP");
                break;
            default:
                break;
        }
        if (!done_)
            await_signal();
    });
}

void Daemon::reload() {
    // Only what is safe to change under a running election is applied; the rest needs a restart
    // and is named in the log. systemd 252 has no Type=notify-reload: ExecReload sends SIGHUP and
    // RELOADING=1 ... READY=1 brackets the work so `systemctl reload` waits for it.
    sd::notify("RELOADING=1\n" + sd::monotonic_usec_field());
    try {
        const config::Config fresh = config::load_config(config_path_);
        std::vector<std::string> refused;
        auto check = [&](const char* what, bool changed) {
            if (changed)
                refused.emplace_back(what);
        };
        check("cluster", fresh.cluster != cfg_.cluster);
        check("node_id", fresh.node_id != cfg_.node_id);
        check("database", !(fresh.database == cfg_.database));
        check("lease", !(fresh.lease == cfg_.lease));
        check("supervision", !(fresh.supervision == cfg_.supervision));
        // Health-check limits (threshold, interval, start period) are applied to the running
        // checks; any other change to processes needs a restart.
        bool health_only = fresh.processes.size() == cfg_.processes.size();
        for (std::size_t i = 0; health_only && i < fresh.processes.size(); ++i) {
            auto a = fresh.processes[i];
            a.health = cfg_.processes[i].health;
            health_only = a == cfg_.processes[i] && fresh.processes[i].health.has_value() ==
                                                        cfg_.processes[i].health.has_value();
        }
        if (!(fresh.processes == cfg_.processes)) {
            bool applied = health_only;
            for (std::size_t i = 0; applied && i < fresh.processes.size(); ++i) {
                const auto& h = fresh.processes[i].health;
                if (h && !(h == cfg_.processes[i].health))
                    applied = supervisor_.set_health_limits(fresh.processes[i].name, *h);
            }
            if (applied) {
                cfg_.processes = fresh.processes;
                spdlog::info("SIGHUP: health-check limits reloaded");
            } else {
                refused.emplace_back(health_only ? "processes[].health (only failure_threshold, "
                                                   "interval_ms and start_period_ms reload)"
                                                 : "processes");
            }
        }
        check("log.format", fresh.log.format != cfg_.log.format);
        check("status_interval_ms", fresh.status_interval != cfg_.status_interval);
        check("priority", fresh.priority != cfg_.priority);
        check("failback", fresh.failback != cfg_.failback);
        check("nofailover", fresh.nofailover != cfg_.nofailover);
        check("heartbeat", !(fresh.heartbeat == cfg_.heartbeat));
        check("fencing", fresh.fence_roles != cfg_.fence_roles);
        check("metrics", !(fresh.metrics == cfg_.metrics));
        check("airflow", !(fresh.airflow == cfg_.airflow));
        check("hooks", !(fresh.hooks == cfg_.hooks));
        if (fresh.log.level != cfg_.log.level) {
            spdlog::set_level(spdlog::level::from_str(fresh.log.level));
            spdlog::info("SIGHUP: log level now {}", fresh.log.level);
            cfg_.log.level = fresh.log.level;
        }
        if (!refused.empty()) {
            std::string list;
            for (const auto& r : refused)
                list += (list.empty() ? "" : ", ") + r;
            spdlog::warn(
                "SIGHUP: changes to {} need a restart (they are not safe to apply under a "
                "running election); kept the running values",
                list);
        } else if (fresh == cfg_) {
            spdlog::info("SIGHUP: configuration reloaded");
        }
    } catch (const std::exception& e) {
        spdlog::error("SIGHUP: config not reloaded, kept the running one: {}", e.what());
    }
    status_sent_ = status_words();
    sd::notify("READY=1\nSTATUS=" + status_sent_);
}

void Daemon::observe(const core::Event& e) {
    if (const auto* p = std::get_if<core::ev::paused>(&e)) {
        if (p->on != core_.pause().on)
            spdlog::warn("maintenance mode: {}", p->on ? core::describe_pause(*p) : "resumed");
        if (p->on && !p->lease_holder.empty() && core_.term() == 0) {
            seen_active_ = std::make_pair(p->lease_holder, p->lease_term);
            seen_active_until_ = boot_clock::now() + p->lease_remaining;
        } else if (p->on && core_.term() == 0) {
            seen_active_.reset();
        }
    }
    if (const auto* a = std::get_if<core::ev::acquire_result>(&e)) {
        if (a->won)
            seen_active_.reset();
        else if (a->holder && a->remaining.count() > 0) {
            seen_active_ = std::make_pair(*a->holder, a->term);
            seen_active_until_ = boot_clock::now() + a->remaining;
        } else
            seen_active_.reset();
    }
    if (!metrics_)
        return;
    if (const auto* r = std::get_if<core::ev::renew_result>(&e)) {
        metrics_->observe_renew_latency(
            std::chrono::duration_cast<Duration>(boot_clock::now() - r->sent_at));
    } else if (const auto* f = std::get_if<core::ev::db_failure>(&e)) {
        static const char* ops[] = {"acquire", "renew", "release"};
        metrics_->database_error(ops[static_cast<int>(f->op)]);
    } else if (const auto* u = std::get_if<core::ev::process_unhealthy>(&e)) {
        metrics_->health_check_failed(u->name);
    }
}

void Daemon::check_loop(TimePoint due) {
    if (done_)
        return;
    const TimePoint now = boot_clock::now();
    // Healthy: the timer fired at most one interval late (the loop was not blocked) and a step
    // of the core, which checks the lease deadline before anything else, went through.
    const bool on_time = now - due <= loop_interval_;
    feed(core::ev::tick{});
    if (done_)
        return;
    if (on_time) {
        healthy_until_ = now + 2 * loop_interval_;
        if (watchdog_.count() > 0)
            sd::notify("WATCHDOG=1");
    } else {
        spdlog::warn("event loop ran {} ms late; no watchdog ping this round",
                     std::chrono::duration_cast<Duration>(now - due).count());
    }
    const TimePoint next = now + loop_interval_;
    loop_timer_.expires_at(next);
    loop_timer_.async_wait([this, next](const boost::system::error_code& ec) {
        if (!ec)
            check_loop(next);
    });
}

bool Daemon::loop_healthy() const {
    return !done_ && boot_clock::now() < healthy_until_;
}

std::string Daemon::status_words() const {
    if (core_.paused()) {
        // Loud: with nobody active while paused, nobody will take over until resume.
        std::string words = core::describe_pause(core_.pause()) + "; ";
        if (core_.role() == core::Role::standby &&
            (!seen_active_ || boot_clock::now() >= seen_active_until_))
            return words + "NO ACTIVE NODE and nobody takes over until resume";
        return words + plain_status_words();
    }
    return plain_status_words();
}

std::string Daemon::plain_status_words() const {
    const core::Role role = core_.role();
    switch (role) {
        case core::Role::active:
            return "active in term " + std::to_string(core_.term()) + ", running " +
                   std::to_string(supervisor_.groups().size()) + " of " +
                   std::to_string(cfg_.processes.size()) + " process(es)";
        case core::Role::stopping:
            return core_.term() ? "stopping: handing over term " + std::to_string(core_.term())
                                : "stopping";
        case core::Role::stopped:
            return "stopped";
        case core::Role::nofailover:
            return seen_active_ ? "nofailover (never takes over); " + seen_active_->first +
                                      " is active in term " + std::to_string(seen_active_->second)
                                : "nofailover (never takes over); no active node seen";
        case core::Role::standby:
            break;
    }
    if (!db_->connected())
        return "standby; database unreachable, cannot become active";
    if (seen_active_)
        return "standby; " + seen_active_->first + " is active in term " +
               std::to_string(seen_active_->second);
    return "standby; no active node seen";
}

void Daemon::update_status() {
    if (!ready_sent_)
        return;
    std::string words = status_words();
    if (words == status_sent_)
        return;
    status_sent_ = std::move(words);
    sd::notify("STATUS=" + status_sent_);
}

metrics::Snapshot Daemon::metrics_snapshot() const {
    metrics::Snapshot s;
    const core::Role role = core_.role();
    s.role = core::to_string(role);
    s.term = core_.term();
    if (role == core::Role::active)
        s.lease_remaining_s = std::max(
            0.0, std::chrono::duration<double>(core_.lease_deadline() - boot_clock::now()).count());
    if (role == core::Role::active || (seen_active_ && boot_clock::now() < seen_active_until_))
        s.cluster_active_nodes = 1;
    s.cluster_paused = core_.paused();
    s.db_connected = db_->connected();
    s.db_statements = db_->statements();
    s.events_dropped = db_->events_dropped();
    s.loop_healthy = loop_healthy();
    if (heartbeat_) {
        const nlohmann::json c = heartbeat_->counters();
        metrics::Snapshot::Heartbeat h;
        h.sent = c.value("sent", std::uint64_t{0});
        h.received = c.value("received", std::uint64_t{0});
        h.send_errors = c.value("send_errors", std::uint64_t{0});
        const nlohmann::json& dropped = c.at("dropped");
        for (auto it = dropped.begin(); it != dropped.end(); ++it)
            h.dropped[it.key()] = it.value().get<std::uint64_t>();
        s.heartbeat = std::move(h);
        const nlohmann::json peers = heartbeat_->peers_view();
        for (auto it = peers.begin(); it != peers.end(); ++it)
            if (it.value().value("heard", false) && it.value().value("role", "") == "active")
                s.cluster_active_nodes = 1;
        for (auto it = peers.begin(); it != peers.end(); ++it)
            if (it.value().contains("age_ms"))
                s.peer_age_s[it.key()] = it.value()["age_ms"].get<double>() / 1000.0;
    }
    return s;
}

metrics::HttpServer::Response Daemon::healthz(bool need_active) const {
    const bool healthy = loop_healthy();
    const bool active = core_.role() == core::Role::active;
    const nlohmann::json body = {
        {"healthy", healthy},       {"role", core::to_string(core_.role())},
        {"term", core_.term()},     {"database_connected", db_->connected()},
        {"paused", core_.paused()}, {"status", status_words()}};
    const bool ok = healthy && (!need_active || active);
    return {ok ? 200 : 503, "application/json", body.dump() + "\n"};
}

void Daemon::reap() {
    for (;;) {
        int status = 0;
        const pid_t pid = waitpid(-1, &status, WNOHANG);
        if (pid <= 0)
            break;
        if (guard_.on_reaped(pid))
            continue;
        if (on_role_change_ && on_role_change_->on_reaped(pid, status))
            continue;
        if (pre_promote_ && pre_promote_->on_reaped(pid, status))
            continue;
        if (warm_ && warm_->on_reaped(pid, status))
            continue;
        supervisor_.on_reaped(pid, status);  // else: an adopted orphan of a group, nothing to do
    }
}

std::map<std::string, std::string> Daemon::hook_env(const std::string& hook,
                                                    const std::string& action,
                                                    const std::string& role, std::int64_t term,
                                                    const std::string& previous_holder) const {
    return {{"AIRFLOW_FAILOVER_HOOK", hook},
            {"AIRFLOW_FAILOVER_ACTION", action},
            {"AIRFLOW_FAILOVER_ROLE", role},
            {"AIRFLOW_FAILOVER_TERM", std::to_string(term)},
            {"AIRFLOW_FAILOVER_CLUSTER", cfg_.cluster},
            {"AIRFLOW_FAILOVER_NODE", cfg_.node_id},
            {"AIRFLOW_FAILOVER_PREVIOUS_HOLDER", previous_holder}};
}

void Daemon::hook_done(const std::string& hook, const std::string& action, std::int64_t term,
                       const hooks::Outcome& o) {
    if (metrics_)
        metrics_->hook_run(hook, hooks::to_string(o.kind));
    if (o.ok()) {
        spdlog::info("hook {} ({}, term {}) {}", hook, action, term, o.detail);
        return;
    }
    const std::string kind =
        o.kind == hooks::Outcome::Kind::timed_out ? "hook_timeout" : "hook_failed";
    const std::string detail = hook + " (" + action + "): " + o.detail;
    spdlog::warn("{}: {} (term {})", kind, detail, term);
    if (metrics_)
        metrics_->event(kind);
    db_->record(kind, detail, term);
}

void Daemon::publish() {
    db::NodeReport r;
    r.role = core::to_string(core_.role());
    r.term = core_.term();
    r.processes_json = supervisor_.describe().dump();
    r.state = supervisor_.any_alive() ? "running" : "idle";
    r.priority = cfg_.priority;
    nlohmann::json counters = {{"db_statements", db_->statements()},
                               {"events_dropped", db_->events_dropped()}};
    if (warm_)  // warm copies are no running processes: reported apart from them
        counters["warm"] = warm_->describe();
    if (heartbeat_) {
        r.peers_json = heartbeat_->peers_view().dump();
        counters["heartbeat"] = heartbeat_->counters();
    }
    r.counters_json = counters.dump();
    db_->publish(std::move(r));
}

void Daemon::schedule_publish() {
    publish_timer_.expires_after(cfg_.status_interval);
    publish_timer_.async_wait([this](const boost::system::error_code& ec) {
        if (ec || done_)
            return;
        publish();
        schedule_publish();
    });
}

}  // namespace af::daemon
