#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "af/airflow/takeover_worker.hpp"
#include "af/config/config.hpp"
#include "af/core/election.hpp"
#include "af/db/db_worker.hpp"
#include "af/guard/guard_link.hpp"
#include "af/hooks/hook_runner.hpp"
#include "af/metrics/http_server.hpp"
#include "af/metrics/metrics.hpp"
#include "af/net/heartbeat_service.hpp"
#include "af/proc/supervisor.hpp"
#include "af/proc/warm_pool.hpp"
#include "af/util/boot_clock.hpp"
#include "af/util/boot_timer.hpp"

namespace af::daemon {

/// The imperative shell around the election core: one io_context, one timer for the core's
/// next wake-up, signals, the database worker, the supervisor and the guard.
///
///   signals ─┐           ┌─> Supervisor (fork/exec, SIGTERM/SIGKILL to groups, reap)
///   timer ───┼─> Election::step(event, now) ─> actions ─┼─> DbWorker (lease SQL, events)
///   DbWorker ┘   (pure)                                 └─> GuardLink (deadline, groups)
class Daemon {
  public:
    Daemon(config::Config cfg, std::string config_path);
    ~Daemon();
    /// Runs until stopped; returns the process exit code.
    int run();

  private:
    using Timer = BootTimer;  // waits on the boot clock itself: deadlines hold across suspend

    void feed(const core::Event& e);
    void execute(const core::Action& a);
    void await_signal();
    void reap();
    void sync_guard_groups();
    void reload();
    void arm_timer(TimePoint at);
    void publish();
    void schedule_publish();
    net::HeartbeatService::Snapshot heartbeat_snapshot() const;
    // Operations (systemd notifications, watchdog, metrics): see docs/operations.md.
    void observe(const core::Event& e);
    void check_loop(TimePoint due);
    bool loop_healthy() const;
    std::string status_words() const;
    std::string plain_status_words() const;  ///< without maintenance mode
    void update_status();
    metrics::Snapshot metrics_snapshot() const;
    metrics::HttpServer::Response healthz(bool need_active) const;
    // Promotion gates and hooks (docs/airflow.md).
    std::map<std::string, std::string> hook_env(const std::string& hook, const std::string& action,
                                                const std::string& role, std::int64_t term,
                                                const std::string& previous_holder) const;
    void hook_done(const std::string& hook, const std::string& action, std::int64_t term,
                   const hooks::Outcome& o);
    // Warm standby (daemon_warm.cpp, docs/warm-standby.md).
    void make_warm_pool();
    /// Starts `name` in `term`: by sending go to its warm copy when `warm`, else (or when
    /// that copy is gone) by spawning it.
    void start_process(const std::string& name, std::int64_t term, bool warm);
    void execute_warm(const core::Action& a);

    config::Config cfg_;
    std::string config_path_;
    boost::asio::io_context io_;
    boost::asio::signal_set signals_;
    Timer timer_;
    Timer publish_timer_;
    core::Election core_;
    std::unique_ptr<db::DbWorker> db_;
    proc::Supervisor supervisor_;
    guard::GuardLink guard_;
    std::unique_ptr<net::HeartbeatService> heartbeat_;
    core::Role last_role_{core::Role::standby};
    std::unique_ptr<metrics::Metrics> metrics_;
    std::unique_ptr<metrics::HttpServer> http_;
    std::unique_ptr<airflow::TakeoverWorker> takeover_;
    std::unique_ptr<hooks::HookRunner> on_role_change_;
    std::unique_ptr<hooks::HookRunner> pre_promote_;
    std::unique_ptr<proc::WarmPool> warm_;  ///< only when a process opted in
    Timer loop_timer_;
    std::chrono::microseconds watchdog_{0};  ///< WatchdogSec as systemd told us; 0: off
    Duration loop_interval_{1000};
    TimePoint healthy_until_{};  ///< the last loop check passed and is still current
    bool ready_sent_{false};
    bool stopping_sent_{false};
    std::string status_sent_;
    std::optional<std::pair<std::string, std::int64_t>> seen_active_;  ///< holder, term
    TimePoint seen_active_until_{};  ///< when that holder's lease runs out, as last read
    std::map<std::string, std::int64_t> started_in_term_;  ///< process -> term
    int exit_code_{0};
    bool done_{false};
};

}  // namespace af::daemon
