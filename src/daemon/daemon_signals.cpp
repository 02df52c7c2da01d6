// The daemon's answers to signals (the runner catches them): stop, resume, reload.
#include <spdlog/spdlog.h>

#include "af/daemon/daemon.hpp"
#include "af/daemon/reload_plan.hpp"

namespace af::daemon {

void Daemon::stop_requested(const std::string& signal_name) {
    if (done_)
        return;
    spdlog::info("received {}; stopping gracefully", signal_name);
    if (!stopping_sent_)
        notify("STOPPING=1\nSTATUS=stopping: handing over");
    stopping_sent_ = true;
    feed(core::ev::stop_requested{signal_name});
}

void Daemon::resumed() {
    spdlog::warn("resumed after being stopped (SIGCONT)");
    feed(core::ev::tick{});
}

void Daemon::reload(const std::function<config::Config()>& load) {
    if (done_)
        return;
    // systemd 252 has no Type=notify-reload: ExecReload sends SIGHUP and RELOADING=1 ...
    // READY=1 brackets the work so `systemctl reload` waits for it.
    notify("RELOADING=1");
    try {
        const config::Config fresh = load();
        ReloadPlan plan = plan_reload(cfg_, fresh);
        if (plan.processes_changed) {
            bool applied = true;
            for (const auto& [name, h] : plan.health_limits)
                applied = applied && p_.processes.set_health_limits(name, h);
            if (applied) {
                cfg_.processes = fresh.processes;
                spdlog::info("SIGHUP: health-check limits reloaded");
            } else {
                plan.refused.emplace_back(
                    "processes[].health (only failure_threshold, interval_ms and "
                    "start_period_ms reload)");
            }
        }
        if (plan.log_level) {
            spdlog::set_level(spdlog::level::from_str(*plan.log_level));
            spdlog::info("SIGHUP: log level now {}", *plan.log_level);
            cfg_.log.level = *plan.log_level;
        }
        if (!plan.refused.empty())
            spdlog::warn(
                "SIGHUP: changes to {} need a restart (they are not safe to apply under a "
                "running election); kept the running values",
                join_refused(plan.refused));
        else if (fresh == cfg_)
            spdlog::info("SIGHUP: configuration reloaded");
    } catch (const std::exception& e) {
        spdlog::error("SIGHUP: config not reloaded, kept the running one: {}", e.what());
    }
    // The code a warm copy loaded may have changed: replace it.
    p_.processes.warm_all_stale("SIGHUP");
    refresh_view();
    status_sent_ = view_.words;
    notify("READY=1\nSTATUS=" + status_sent_);
}

void Daemon::check_loop(TimePoint due) {
    if (done_)
        return;
    const TimePoint now = p_.clock.now();
    // Healthy: the timer fired at most one interval late (the loop was not blocked) and a step
    // of the core, which checks the lease deadline before anything else, went through.
    const bool on_time = now - due <= x_.loop_interval;
    feed(core::ev::tick{});
    if (done_)
        return;
    if (on_time) {
        healthy_until_ = now + 2 * x_.loop_interval;
        view_.healthy_until = healthy_until_;
        if (x_.watchdog)
            notify("WATCHDOG=1");
    } else {
        spdlog::warn("event loop ran {} ms late; no watchdog ping this round",
                     std::chrono::duration_cast<Duration>(now - due).count());
    }
    const TimePoint next = now + x_.loop_interval;
    loop_->at(next, [this, next] { check_loop(next); });
}

}  // namespace af::daemon
