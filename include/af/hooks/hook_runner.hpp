#pragma once

#include <sys/types.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <string>

#include "af/config/config.hpp"
#include "af/ports/optional_parts.hpp"
#include "af/proc/child_env.hpp"
#include "af/util/boot_clock.hpp"

namespace af::hooks {

using Outcome = ports::HookOutcome;
const char* to_string(Outcome::Kind k);

/// Runs one configured hook (an argv, no shell) as a child in a session of its own, one run at
/// a time, in the order asked, each killed at the timeout with its session and every process it
/// started, also one in a session of its own (proc::kill_session_tree). It never
/// blocks the event loop: the daemon reaps the child and hands it back through on_reaped().
class HookRunner : public ports::Hook {
  public:
    /// `max_queued` bounds the runs waiting behind a running one; beyond it the oldest waiting
    /// run is dropped (its Done gets Kind::dropped), so a hanging hook cannot grow memory.
    /// `coalesce`: a new run replaces every run still waiting (their Done gets Kind::dropped),
    /// for hooks where only the newest call matters (on_role_change: a demote queued behind a
    /// slow hook must not be told after the promote that followed it).
    HookRunner(boost::asio::io_context& io, std::string name, config::HookConfig cfg,
               std::size_t max_queued = 64, bool coalesce = false);
    ~HookRunner() override;
    HookRunner(const HookRunner&) = delete;
    HookRunner& operator=(const HookRunner&) = delete;

    /// Queue a run with this environment (proc::ChildEnv::hook).
    void enqueue(proc::EnvPolicy env, Done done) override;
    /// A reaped child: true if it was this runner's.
    bool on_reaped(pid_t pid, int status);
    /// SIGKILL to the running hook's group; queued runs are not started.
    void shutdown();
    /// For the daemon's exit: runs what is queued to the end, blocking, within each run's
    /// timeout and at most `budget` in all (the last demote of a graceful stop must not be cut
    /// off by the exit). Runs still waiting at the end are dropped.
    void drain(Duration budget) override;

    const std::string& name() const { return name_; }
    std::size_t waiting() const { return queue_.size(); }
    bool running() const { return pid_ > 0; }

  private:
    struct Run {
        proc::EnvPolicy env;
        Done done;
    };
    void start_next();
    void finish(const Outcome& o);

    boost::asio::io_context& io_;
    std::string name_;
    config::HookConfig cfg_;
    std::size_t max_queued_;
    bool coalesce_;
    std::deque<Run> queue_;
    Run current_;
    pid_t pid_{0};
    std::chrono::steady_clock::time_point started_{};
    bool timed_out_{false};
    bool stopped_{false};
    boost::asio::steady_timer timer_;
};

}  // namespace af::hooks
