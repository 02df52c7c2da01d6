#include "af/daemon/daemon.hpp"

#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/post.hpp>
#include <nlohmann/json.hpp>

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
      guard_(guard_conf(cfg_)) {
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
    guard_.start();
    db_->start();
    if (heartbeat_)
        heartbeat_->start();
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
                db_->acquire(0);
            } else if constexpr (std::is_same_v<T, core::act::renew>) {
                db_->renew(a.term);
            } else if constexpr (std::is_same_v<T, core::act::release>) {
                db_->release(a.term, a.reserved_for);
            } else if constexpr (std::is_same_v<T, core::act::start_process>) {
                supervisor_.start(a.name, a.term);
            } else if constexpr (std::is_same_v<T, core::act::stop_process>) {
                spdlog::info("stopping {} (SIGTERM to its process group)", a.name);
                supervisor_.signal(a.name, SIGTERM);
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
                db_->record(a.kind, a.detail, a.term);
            } else if constexpr (std::is_same_v<T, core::act::command_done>) {
                spdlog::info("command {}: {}", a.id, a.result);
                db_->finish_command(a.id, a.result);
            } else if constexpr (std::is_same_v<T, core::act::exit>) {
                exit_code_ = a.code;
                done_ = true;
                publish();
                if (heartbeat_)
                    heartbeat_->stop();
                guard_.shutdown();
                signals_.cancel();
                timer_.cancel();
                publish_timer_.cancel();
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
                break;
            default:
                break;
        }
        if (!done_)
            await_signal();
    });
}

void Daemon::reload() {
    // Only what is safe to change under a running election is applied; the rest needs a restart.
    try {
        const config::Config fresh = config::load_config(config_path_);
        if (fresh.log.level != cfg_.log.level) {
            spdlog::set_level(spdlog::level::from_str(fresh.log.level));
            spdlog::info("SIGHUP: log level now {}", fresh.log.level);
            cfg_.log.level = fresh.log.level;
        }
        if (fresh.lease.ttl != cfg_.lease.ttl ||
            fresh.lease.renew_interval != cfg_.lease.renew_interval ||
            fresh.cluster != cfg_.cluster || fresh.node_id != cfg_.node_id ||
            fresh.database.conninfo != cfg_.database.conninfo)
            spdlog::warn(
                "SIGHUP: changes to cluster, node_id, database or lease need a restart; "
                "kept the running values");
    } catch (const std::exception& e) {
        spdlog::error("SIGHUP: config not reloaded: {}", e.what());
    }
}

void Daemon::reap() {
    for (;;) {
        int status = 0;
        const pid_t pid = waitpid(-1, &status, WNOHANG);
        if (pid <= 0)
            break;
        if (guard_.on_reaped(pid))
            continue;
        supervisor_.on_reaped(pid, status);  // else: an adopted orphan of a group, nothing to do
    }
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
