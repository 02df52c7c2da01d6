#include "af/proc/managed_process.hpp"

#include <signal.h>
#include <spdlog/spdlog.h>

#include <algorithm>

#include "af/proc/run_as.hpp"

namespace af::proc {

namespace {
bool same(const timespec& a, const timespec& b) {
    return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec;
}
}  // namespace

/// The health check, its verdict so far and the timer that paces it.
struct ManagedProcess::Health {
    Health(const config::HealthConfig& c, std::unique_ptr<health::HealthCheck> chk,
           std::unique_ptr<ports::Timer> t)
        : cfg(c),
          check(std::move(chk)),
          tracker(c.failure_threshold, c.start_period),
          timer(std::move(t)) {}
    config::HealthConfig cfg;
    std::unique_ptr<health::HealthCheck> check;
    health::HealthTracker tracker;
    std::unique_ptr<ports::Timer> timer;
    std::chrono::system_clock::time_point started_wall{};
    std::uint64_t generation{0};  ///< bumped at each start and exit: late results are ignored
    bool in_flight{false};
    std::string last;
};

ManagedProcess::ManagedProcess(config::ProcessConfig cfg, const ChildEnv& base_env, ProcessOs& os,
                               ports::Clock& clock, ports::EventSink emit)
    : cfg_(std::move(cfg)),
      base_env_(base_env),
      os_(os),
      clock_(clock),
      emit_(std::move(emit)),
      group_timer_(clock.timer()),
      stop_timer_(clock.timer()),
      watch_timer_(clock.timer()),
      defer_timer_(clock.timer()) {
    if (cfg_.user) {
        try {
            resolve_run_as(*cfg_.user, cfg_.group);
        } catch (const std::exception& e) {
            throw config::ConfigError("processes." + cfg_.name + ".user", e.what());
        }
    }
    if (cfg_.health) {
        const config::HealthConfig& h = *cfg_.health;
        health_ =
            std::make_unique<Health>(h, os_.health_check(h, context(child_env())), clock_.timer());
    }
    if (cfg_.warm_enabled() && !cfg_.warm->watch_paths.empty())
        schedule_watch();
}

ManagedProcess::~ManagedProcess() = default;

ChildEnv ManagedProcess::child_env() const {
    ChildEnv env = base_env_;
    env.process(cfg_.name, cfg_.env, cfg_.inherit_env);
    return env;
}

SpawnSpec ManagedProcess::context(const ChildEnv& env) const {
    SpawnSpec spec;
    spec.env = env.policy();
    spec.cwd = cfg_.cwd;
    if (cfg_.user)
        spec.run_as = resolve_run_as(*cfg_.user, cfg_.group);
    return spec;
}

void ManagedProcess::defer(std::function<void()> fn) {
    deferred_.push_back(std::move(fn));
    if (deferred_.size() > 1)
        return;  // already armed for the calls queued before
    defer_timer_->at(clock_.now(), [this] {
        // Taken first: a call may defer another, which then waits for the next turn.
        std::deque<std::function<void()>> due;
        due.swap(deferred_);
        for (auto& call : due)
            call();
    });
}

void ManagedProcess::start(std::int64_t term) {
    try {
        ChildEnv env = child_env();
        SpawnSpec spec = context(env.term(term));
        spec.argv = cfg_.command;
        running(os_.spawn(spec), term);
        spdlog::info("started {} (pid {}, term {})", cfg_.name, pid_, term);
    } catch (const std::exception& e) {
        pid_ = 0;
        spdlog::error("cannot start {}: {}", cfg_.name, e.what());
        defer([this, what = std::string(e.what())] {
            emit_(core::ev::process_exited{cfg_.name, "failed to start: " + what});
        });
    }
}

bool ManagedProcess::go_warm(std::int64_t term) {
    if (!warm_ || !warm_->ready || !warm_->channel)
        return false;
    const std::string why = warm_->channel->send("go " + std::to_string(term) + "\n");
    if (!why.empty()) {
        spdlog::warn("cannot send go to the warm {} (pid {}): {}; starting it cold", cfg_.name,
                     warm_->pid, why);
        // It must not linger beside the cold start: it might still read a partial go, or hold
        // whatever it had opened.
        kill_warm("go could not be sent (" + why + ")");
        return false;
    }
    const pid_t pid = warm_->pid;
    // Closing our end after go is no EOF-before-go: the process has the go line first.
    close_channel();
    warm_.reset();
    stop_timer_->cancel();
    spdlog::info("sent go (term {}) to the warm {} (pid {})", term, cfg_.name, pid);
    running(pid, term);
    spdlog::info("{} (pid {}) runs in term {}: a warm standby sent go", cfg_.name, pid, term);
    return true;
}

void ManagedProcess::running(pid_t pid, std::int64_t term) {
    pid_ = pid;
    leader_reaped_ = false;
    term_ = term;
    ++restarts_;
    if (!health_)
        return;
    ++health_->generation;
    health_->in_flight = false;
    health_->started_wall = os_.wall_now();
    health_->tracker.reset(clock_.now());
    health_->last.clear();
    schedule_check();
}

void ManagedProcess::signal(ports::ProcSignal s) {
    if (pid_ <= 0)
        return;
    switch (s) {
        case ports::ProcSignal::stop:
            // A graceful stop asks the process group; the scheduler stops its own task runners.
            os_.signal_group(pid_, SIGTERM);
            return;
        // Everything it started: Airflow 3's task runners sit in process groups of their own.
        case ports::ProcSignal::kill:
            os_.signal_session(pid_, SIGKILL);
            return;
        case ports::ProcSignal::freeze:
            os_.signal_session(pid_, SIGSTOP);
            return;
        case ports::ProcSignal::thaw:
            os_.signal_session(pid_, SIGCONT);
            return;
    }
}

void ManagedProcess::schedule_check() {
    Health& h = *health_;
    const std::uint64_t gen = h.generation;
    h.timer->at(clock_.now() + h.cfg.interval, [this, gen] {
        Health& hc = *health_;
        if (gen != hc.generation)
            return;
        if (!hc.in_flight) {
            hc.in_flight = true;
            hc.check->run(hc.started_wall, [this, gen](bool ok, const std::string& why) {
                Health& hr = *health_;
                if (gen != hr.generation)
                    return;  // the process ended meanwhile
                hr.in_flight = false;
                hr.last = why;
                if (hr.tracker.record(ok, clock_.now())) {
                    spdlog::warn("{} failed its {} health check {} times in a row: {}", cfg_.name,
                                 hr.cfg.type(), hr.cfg.failure_threshold, why);
                    emit_(core::ev::process_unhealthy{cfg_.name, why});
                }
            });
        }
        schedule_check();
    });
}

bool ManagedProcess::set_health_limits(const config::HealthConfig& h) {
    if (!health_)
        return false;
    Health& health = *health_;
    config::HealthConfig same_cfg = h;
    same_cfg.failure_threshold = health.cfg.failure_threshold;
    same_cfg.interval = health.cfg.interval;
    same_cfg.start_period = health.cfg.start_period;
    if (!(same_cfg == health.cfg))
        return false;
    health.cfg.failure_threshold = h.failure_threshold;
    health.cfg.interval = h.interval;  // takes effect from the next check on
    health.cfg.start_period = h.start_period;
    health.tracker.set_limits(h.failure_threshold, h.start_period);
    cfg_.health = health.cfg;
    return true;
}

bool ManagedProcess::on_reaped(pid_t pid, int status) {
    if (health_ && health_->check->on_reaped(pid, status))
        return true;
    if (warm_ && warm_->pid == pid) {
        os_.signal_session(pid, SIGKILL);  // anything it started goes with it
        close_channel();
        const std::string killed_for = std::move(warm_->killed_for);
        warm_.reset();
        stop_timer_->cancel();
        const std::string how = killed_for.empty() ? describe_wait_status(status)
                                                   : "was killed: it " + killed_for + " (" +
                                                         describe_wait_status(status) + ")";
        spdlog::info("warm {} (pid {}) {}", cfg_.name, pid, how);
        emit_(core::ev::warm_exited{cfg_.name, how});
        return true;
    }
    if (pid <= 0 || pid != pid_ || leader_reaped_)
        return false;
    leader_reaped_ = true;
    how_ = describe_wait_status(status);
    // Stragglers of the session (the leader's children) are killed: the process is one unit.
    os_.signal_session(pid, SIGKILL);
    await_group_empty(0);
    return true;
}

void ManagedProcess::await_group_empty(int tries) {
    // As a child subreaper the daemon reaps the session's orphans itself; the process is gone
    // when no live member of its session is left.
    if (!os_.session_alive(pid_)) {
        pid_ = 0;
        if (health_) {
            ++health_->generation;
            health_->in_flight = false;
            health_->timer->cancel();
        }
        emit_(core::ev::process_exited{cfg_.name, how_});
        return;
    }
    if (tries == 100)
        spdlog::warn("processes of {}'s session linger after SIGKILL", cfg_.name);
    if (tries % 10 == 9)
        os_.signal_session(pid_, SIGKILL);  // members that appeared since
    group_timer_->at(clock_.now() + k_group_poll, [this, tries] { await_group_empty(tries + 1); });
}

void ManagedProcess::warm_start() {
    if (!cfg_.warm_enabled())
        return;
    // No AIRFLOW_FAILOVER_TERM: there is no term yet; it comes with go.
    ChildEnv env = child_env();
    SpawnSpec spec = context(env.warm_fd(k_warm_fd));
    spec.argv = cfg_.command;
    Warm w;
    for (const auto& path : cfg_.warm->watch_paths)
        w.mtimes[path] = os_.mtime(path);
    try {
        auto [pid, channel] = os_.spawn_warm(std::move(spec));
        w.pid = pid;
        w.channel = std::move(channel);
    } catch (const std::exception& e) {
        spdlog::error("cannot start a warm {}: {}", cfg_.name, e.what());
        defer([this, what = std::string(e.what())] {
            emit_(core::ev::warm_exited{cfg_.name, "failed to start: " + what});
        });
        return;
    }
    w.generation = ++next_generation_;
    const std::uint64_t gen = w.generation;
    spdlog::info("started a warm {} (pid {}), waiting for its ready", cfg_.name, w.pid);
    warm_ = std::move(w);
    warm_->channel->read([this, gen](const WarmChannel::Read& r) { on_warm_read(gen, r); });
}

void ManagedProcess::on_warm_read(std::uint64_t gen, const WarmChannel::Read& r) {
    if (!warm_ || warm_->generation != gen || !warm_->channel)
        return;  // closed, or an older copy
    if (r.overflow) {
        kill_warm("wrote more than " + std::to_string(k_warm_max_line) +
                  " bytes without a newline on its channel");
        return;
    }
    if (!r.line)
        return;  // EOF: its end is told by the reap
    if (*r.line != "ready") {
        spdlog::info("warm {} says: {}", cfg_.name, r.line->substr(0, 200));
        return;
    }
    if (warm_->ready)
        return;  // already ready: nothing new
    if (!os_.running(warm_->pid)) {
        spdlog::warn("warm {} (pid {}) said ready but is no longer running", cfg_.name, warm_->pid);
        return;
    }
    warm_->ready = true;
    emit_(core::ev::warm_ready{cfg_.name});
}

void ManagedProcess::kill_warm(std::string why) {
    spdlog::warn("killing the warm {} (pid {}): it {}", cfg_.name, warm_->pid, why);
    warm_->killed_for = std::move(why);
    warm_->ready = false;
    close_channel();
    os_.signal_session(warm_->pid, SIGKILL);
}

void ManagedProcess::close_channel() {
    if (!warm_ || !warm_->channel)
        return;
    warm_->channel->close();
    warm_->channel.reset();
}

void ManagedProcess::warm_stop() {
    if (!warm_)
        return;
    close_channel();  // EOF: the warm process exits by itself
    const std::uint64_t gen = warm_->generation;
    const pid_t pid = warm_->pid;
    spdlog::info("stopping the warm {} (pid {}): closed its channel", cfg_.name, pid);
    stop_timer_->at(clock_.now() + k_stop_grace, [this, gen, pid] {
        if (!warm_ || warm_->generation != gen)
            return;
        spdlog::info("the warm {} (pid {}) did not exit on EOF (still importing?); killing it",
                     cfg_.name, pid);
        os_.signal_session(pid, SIGKILL);
    });
}

void ManagedProcess::warm_stale(const std::string& why) {
    if (!warm_ || !warm_->channel || warm_->stale_reported)
        return;
    warm_->stale_reported = true;
    emit_(core::ev::warm_stale{cfg_.name, why});
}

void ManagedProcess::shutdown() {
    watch_timer_->cancel();
    stop_timer_->cancel();
    if (!warm_)
        return;
    close_channel();
    os_.signal_session(warm_->pid, SIGKILL);
}

void ManagedProcess::schedule_watch() {
    watch_timer_->at(clock_.now() + k_watch_every, [this] {
        check_paths();
        schedule_watch();
    });
}

void ManagedProcess::check_paths() {
    if (!warm_ || !warm_->channel || warm_->stale_reported)
        return;
    for (const auto& [path, was] : warm_->mtimes) {
        if (same(os_.mtime(path), was))
            continue;
        warm_stale("watched path " + path + " changed");
        return;
    }
}

ports::ProcessStatus ManagedProcess::describe() const {
    ports::ProcessStatus s;
    s.name = cfg_.name;
    s.pid = std::max<pid_t>(0, pid_);
    s.running = pid_ > 0 && !leader_reaped_;
    s.restarts = std::max(0, restarts_);
    s.term = term_;
    if (health_)
        s.health = ports::ProcessStatus::Health{health_->cfg.type(), health_->tracker.state(),
                                                health_->last};
    return s;
}

std::optional<ports::WarmStatus> ManagedProcess::describe_warm() const {
    if (!warm_)
        return std::nullopt;
    return ports::WarmStatus{cfg_.name, warm_->pid, warm_->ready, !warm_->channel};
}

}  // namespace af::proc
