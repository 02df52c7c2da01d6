#pragma once

#include <sys/types.h>

#include <cstdint>
#include <ctime>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "af/config/config.hpp"
#include "af/health/health_tracker.hpp"
#include "af/ports/clock.hpp"
#include "af/ports/event_sink.hpp"
#include "af/ports/process_control.hpp"
#include "af/proc/child_env.hpp"
#include "af/proc/process_os.hpp"

namespace af::proc {

/// One configured process: its running child and, when it opted in, its warm copy. It decides
/// nothing (the election core says when to start, go, stop or kill); it reports through the
/// sink when the child with its whole session is gone (process_exited), when it failed its
/// health check (process_unhealthy), and its warm copy's ready, exit and staleness. Its time is
/// the Clock port's, so the unit tests run it on simulated time.
///
/// The warm protocol, on one socketpair inherited at fd 3 (docs/warm-standby.md):
///   warm process -> daemon:  "ready\n" once its imports are done (other lines are logged)
///   daemon -> warm process:  "go <term>\n" to start working in that term
///   EOF before go (the daemon closed it, or died): exit without doing anything
class ManagedProcess {
  public:
    /// Throws config::ConfigError when the configured user is unknown (a config error at
    /// start, not a crash loop later).
    ManagedProcess(config::ProcessConfig cfg, const ChildEnv& base_env, ProcessOs& os,
                   ports::Clock& clock, ports::EventSink emit);
    ~ManagedProcess();
    ManagedProcess(const ManagedProcess&) = delete;
    ManagedProcess& operator=(const ManagedProcess&) = delete;

    /// Starts it cold in `term`; a failure is reported as an exit, on a later turn of the loop.
    void start(std::int64_t term);
    /// Sends go with `term` to the ready warm copy, which becomes the running child; false when
    /// there is none able to take it (the caller then starts it cold).
    bool go_warm(std::int64_t term);
    void signal(ports::ProcSignal s);
    void warm_start();
    /// EOF on its channel, then SIGKILL to its session after a grace period.
    void warm_stop();
    /// The code the warm copy loaded may be stale (SIGHUP).
    void warm_stale(const std::string& why);
    /// The daemon exits: the warm copy is killed now.
    void shutdown();
    /// Applies new health-check limits; false when `h` changes more than the limits.
    bool set_health_limits(const config::HealthConfig& h);

    /// A reaped child: true if it was this process's (its child, warm copy or check).
    bool on_reaped(pid_t pid, int status);

    const std::string& name() const { return cfg_.name; }
    pid_t group() const { return pid_; }  ///< 0 when not running
    bool down() const { return pid_ <= 0 || leader_reaped_; }
    ports::ProcessStatus describe() const;
    std::optional<ports::WarmStatus> describe_warm() const;

    /// After EOF on its channel a warm copy has this long to exit by itself before the SIGKILL.
    static constexpr Duration k_stop_grace{2000};
    /// How often the warm copy's watched paths are compared with their mtimes at its start.
    static constexpr Duration k_watch_every{1000};
    /// How often a reaped leader's session is looked at until it is empty.
    static constexpr Duration k_group_poll{10};

  private:
    struct Health;
    struct Warm {
        pid_t pid{0};
        std::unique_ptr<WarmChannel> channel;
        std::map<std::string, timespec> mtimes;  ///< of the watched paths at the start
        bool ready{false};
        bool stale_reported{false};
        std::uint64_t generation{0};
        std::string killed_for;  ///< why the daemon killed it, told with its exit
    };
    void running(pid_t pid, std::int64_t term);
    void await_group_empty(int tries);
    void schedule_check();
    void on_warm_read(std::uint64_t gen, const WarmChannel::Read& r);
    void kill_warm(std::string why);
    void close_channel();
    void check_paths();
    void schedule_watch();
    /// `fn` on a later turn of the loop, never inside the caller's step.
    void defer(std::function<void()> fn);
    /// The process's environment: the daemon's identity, then the process's own settings.
    ChildEnv child_env() const;
    /// What every start of the process shares: `env`, its user and its directory.
    SpawnSpec context(const ChildEnv& env) const;

    config::ProcessConfig cfg_;
    ChildEnv base_env_;  ///< the daemon's identity, for every child
    ProcessOs& os_;
    ports::Clock& clock_;
    ports::EventSink emit_;

    pid_t pid_{0};  ///< also the pgid and sid; 0 when not running
    bool leader_reaped_{false};
    std::string how_;
    int restarts_{-1};
    std::int64_t term_{0};
    std::unique_ptr<Health> health_;
    std::unique_ptr<ports::Timer> group_timer_;

    std::optional<Warm> warm_;
    std::uint64_t next_generation_{0};
    std::unique_ptr<ports::Timer> stop_timer_;
    std::unique_ptr<ports::Timer> watch_timer_;

    /// One timer for every deferred call, made with the others at construction: a timer is a
    /// descriptor (timerfd), and a start that failed for want of descriptors (EMFILE) must
    /// still be reported, not turn into a second failure that stops the daemon.
    std::unique_ptr<ports::Timer> defer_timer_;
    std::deque<std::function<void()>> deferred_;
};

}  // namespace af::proc
