#include "af/daemon/daemon.hpp"

#include <spdlog/spdlog.h>

#include "af/airflow/takeover_worker.hpp"
#include "af/daemon/status_outputs.hpp"
#include "af/hooks/hook_runner.hpp"
#include "af/metrics/metrics.hpp"
#include "af/net/heartbeat_service.hpp"
#include "af/version.hpp"

namespace af::daemon {

Daemon::Daemon(config::Config cfg, Ports ports, Extras extras)
    : cfg_(std::move(cfg)),
      p_(ports),
      x_(std::move(extras)),
      core_(cfg_.election(), cfg_.node_id),
      wakeup_(p_.clock.timer()),
      publish_(p_.clock.timer()),
      loop_(p_.clock.timer()) {
    auto sink = [this](core::Event e) { feed(e); };
    p_.commands.listen(sink);
    p_.processes.listen(sink);
    refresh_view();
}

Daemon::~Daemon() = default;

void Daemon::start() {
    p_.guard.start();
    p_.lease.start([this](core::Event e) { feed(e); });
    if (x_.loop_interval.count() > 0) {
        const TimePoint due = p_.clock.now() + x_.loop_interval;
        loop_->at(due, [this, due] { check_loop(due); });
    }
    spdlog::info(
        "airflow-failover {} starting: cluster {}, node {}, lease ttl {} ms, renew every "
        "{} ms, {} managed process(es)",
        k_version, cfg_.cluster, cfg_.node_id, cfg_.lease.ttl.count(),
        cfg_.lease.renew_interval.count(), cfg_.processes.size());
    feed(core::ev::tick{});
    schedule_publish();
}

void Daemon::feed(const core::Event& e) {
    if (done_)
        return;
    observe(e);
    const core::Ready r = core_.step(e, p_.clock.now());
    // Say so right after releasing, so the best standby takes the lease at once; a graceful
    // stop exits in this very step, so finish() says it before the heartbeats stop.
    const auto* rel = std::get_if<core::ev::release_result>(&e);
    announce_release_ = rel && rel->released;
    for (const auto& a : r.actions)
        execute(a);
    if (done_)
        return;
    refresh_view();
    announce_release();
    p_.commands.set_active(view_.role == core::Role::active);
    sync_guard_groups();
    if (view_.role != last_role_) {
        last_role_ = view_.role;
        publish();
    }
    notify_status(e);
    arm_wakeup(r.next_wakeup);
}

void Daemon::announce_release() {
    if (announce_release_ && x_.heartbeat)
        x_.heartbeat->send_now(net::Heartbeat::k_releasing);
    announce_release_ = false;
}

void Daemon::refresh_view() {
    const auto groups = p_.processes.groups();
    view_ = compute_status(core_, p_.clock.now(),
                           {.db_connected = p_.lease.counters().connected,
                            .running = groups.size(),
                            .configured = cfg_.processes.size(),
                            .processes_down = p_.processes.any_down(),
                            .seen_active = seen_active_,
                            .healthy_until = done_ ? TimePoint{} : healthy_until_});
}

void Daemon::notify_status(const core::Event& e) {
    // READY=1 once the first lease statement was answered (won, lost or failed): the config
    // is parsed, the sockets are bound and the database was contacted. A database that is down
    // at boot still makes the unit ready, with STATUS saying so, rather than a start timeout.
    if (!ready_sent_ && (std::holds_alternative<core::ev::acquire_result>(e) ||
                         std::holds_alternative<core::ev::db_failure>(e))) {
        ready_sent_ = true;
        status_sent_ = view_.words;
        notify("READY=1\nSTATUS=" + status_sent_);
    } else if (ready_sent_ && view_.words != status_sent_) {
        status_sent_ = view_.words;
        notify("STATUS=" + status_sent_);
    }
}

void Daemon::sync_guard_groups() {
    const auto g = p_.processes.groups();
    p_.guard.set_groups({g.begin(), g.end()});
}

void Daemon::arm_wakeup(TimePoint at) {
    if (at == TimePoint::max())
        wakeup_->cancel();
    else
        wakeup_->at(at, [this] { feed(core::ev::tick{}); });
}

void Daemon::execute(const core::Action& action) {
    std::visit(
        [this, &action](const auto& a) {
            using T = std::decay_t<decltype(a)>;
            if constexpr (std::is_same_v<T, core::act::try_acquire>) {
                p_.lease.acquire(a.min_term);
            } else if constexpr (std::is_same_v<T, core::act::renew>) {
                p_.lease.renew(a.term);
            } else if constexpr (std::is_same_v<T, core::act::release>) {
                p_.lease.release(a.term, a.reserved_for);
            } else if constexpr (std::is_same_v<T, core::act::arm_guard>) {
                sync_guard_groups();
                p_.guard.arm(a.term, a.deadline);
            } else if constexpr (std::is_same_v<T, core::act::disarm_guard>) {
                p_.guard.disarm();
            } else if constexpr (std::is_same_v<T, core::act::record>) {
                spdlog::info("{}: {} (term {})", a.kind, a.detail, a.term);
                if (x_.metrics)
                    x_.metrics->event(a.kind);
                p_.lease.record(a.kind, a.detail, a.term);
            } else if constexpr (std::is_same_v<T, core::act::command_done>) {
                spdlog::info("command {}: {}", a.id, a.result);
                p_.commands.finish(a.id, a.result);
            } else if constexpr (std::is_same_v<T, core::act::take_over> ||
                                 std::is_same_v<T, core::act::cancel_takeover> ||
                                 std::is_same_v<T, core::act::run_pre_promote> ||
                                 std::is_same_v<T, core::act::role_change>) {
                execute_gate(action);
            } else if constexpr (std::is_same_v<T, core::act::exit>) {
                finish(a.code);
            } else {
                execute_process(action);
            }
        },
        action);
}

void Daemon::finish(int code) {
    exit_code_ = code;
    done_ = true;
    if (!stopping_sent_)
        notify("STOPPING=1");
    stopping_sent_ = true;
    refresh_view();
    publish();
    // Every part closes its own work; the event loop then runs out of work and returns.
    wakeup_->cancel();
    publish_->cancel();
    loop_->cancel();
    announce_release();
    if (x_.heartbeat)
        x_.heartbeat->stop();
    p_.guard.shutdown();
    p_.processes.shutdown();
    if (x_.takeover)
        x_.takeover->stop();
    // The lease is released: let the last role change (the demote) be told, for a bounded
    // time, before the exit would kill the hook.
    if (x_.on_role_change)
        x_.on_role_change->drain(std::min(cfg_.hooks.on_role_change->timeout, Duration{5000}));
    if (x_.on_done)
        x_.on_done();
    // Give queued event rows a moment to reach the database, then stop.
    p_.lease.stop(Duration{1000});
    spdlog::info("stopped");
}

void Daemon::publish() {
    p_.lease.publish(
        node_row(view_, p_.processes, p_.lease.counters(), x_.heartbeat, cfg_.priority));
}

void Daemon::schedule_publish() {
    publish_->at(p_.clock.now() + cfg_.status_interval, [this] {
        if (done_)
            return;
        publish();
        schedule_publish();
    });
}

}  // namespace af::daemon
