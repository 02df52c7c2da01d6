#include "af/proc/supervisor.hpp"

#include <signal.h>
#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>
#include <cerrno>
#include <chrono>
#include <memory>

#include "af/health/health_check.hpp"
#include "af/health/health_tracker.hpp"
#include "af/proc/session.hpp"
#include "af/proc/spawn.hpp"

namespace af::proc {

namespace {
/// How `c` is started, without its argv and term: its `command` health check runs the same way.
SpawnSpec context_of(const config::ProcessConfig& c, ChildEnv env) {
    SpawnSpec spec;
    spec.env = env.process(c.name, c.env, c.inherit_env).policy();
    spec.cwd = c.cwd;
    if (c.user)
        spec.run_as = resolve_run_as(*c.user, c.group);
    return spec;
}
}  // namespace

/// A process's health check, its verdict so far and the timer that paces it.
struct Supervisor::Health {
    Health(boost::asio::io_context& io, const config::HealthConfig& c, const SpawnSpec& context)
        : cfg(c),
          check(health::make_check(io, c, context)),
          tracker(c.failure_threshold, c.start_period),
          timer(io) {}
    config::HealthConfig cfg;
    std::unique_ptr<health::HealthCheck> check;
    health::HealthTracker tracker;
    boost::asio::steady_timer timer;
    std::chrono::system_clock::time_point started_wall{};
    std::uint64_t generation{0};  ///< bumped at each start and exit: late results are ignored
    bool in_flight{false};
    std::string last;
};

Supervisor::~Supervisor() = default;

Supervisor::Supervisor(boost::asio::io_context& io, std::vector<config::ProcessConfig> procs,
                       ChildEnv base_env, ExitHandler on_exit, UnhealthyHandler on_unhealthy)
    : io_(io),
      base_env_(std::move(base_env)),
      on_exit_(std::move(on_exit)),
      on_unhealthy_(std::move(on_unhealthy)) {
    for (auto& p : procs) {
        const std::string name = p.name;
        // An unknown user is a config error at start, not a crash loop later.
        if (p.user) {
            try {
                resolve_run_as(*p.user, p.group);
            } catch (const std::exception& e) {
                throw config::ConfigError("processes." + name + ".user", e.what());
            }
        }
        Child c;
        if (p.health)
            c.health = std::make_shared<Health>(io_, *p.health, context_of(p, base_env_));
        c.cfg = std::move(p);
        children_[name] = std::move(c);
    }
}

void Supervisor::start(const std::string& name, std::int64_t term) {
    auto it = children_.find(name);
    if (it == children_.end())
        return;
    Child& c = it->second;
    try {
        SpawnSpec spec = context_of(c.cfg, ChildEnv(base_env_).term(term));
        spec.argv = c.cfg.command;
        running(name, spawn(spec), term);
        spdlog::info("started {} (pid {}, term {})", name, c.pid, term);
    } catch (const std::exception& e) {
        c.pid = 0;
        spdlog::error("cannot start {}: {}", name, e.what());
        // Report on the next turn of the loop, never from inside the caller's step.
        boost::asio::post(io_, [this, name, what = std::string(e.what())] {
            on_exit_(name, "failed to start: " + what);
        });
    }
}

void Supervisor::adopt(const std::string& name, pid_t pid, std::int64_t term) {
    if (!children_.count(name))
        return;
    running(name, pid, term);
    spdlog::info("{} (pid {}) runs in term {}: a warm standby sent go", name, pid, term);
}

void Supervisor::running(const std::string& name, pid_t pid, std::int64_t term) {
    Child& c = children_.at(name);
    c.pid = pid;
    c.leader_reaped = false;
    c.term = term;
    ++c.restarts;
    if (c.health) {
        ++c.health->generation;
        c.health->in_flight = false;
        c.health->started_wall = std::chrono::system_clock::now();
        c.health->tracker.reset(boot_clock::now());
        c.health->last.clear();
        schedule_check(name);
    }
}

void Supervisor::signal(const std::string& name, int sig) {
    auto it = children_.find(name);
    if (it == children_.end() || it->second.pid <= 0)
        return;
    if (sig == SIGKILL || sig == SIGSTOP || sig == SIGCONT) {
        // Everything it started: Airflow 3's task runners sit in process groups of their own.
        proc::signal_session(it->second.pid, sig);
        return;
    }
    // A graceful stop asks the process group; the scheduler stops its own task runners.
    if (kill(-it->second.pid, sig) != 0 && errno != ESRCH)
        spdlog::warn("kill({}, {}) for {} failed: {}", -it->second.pid, sig, name, strerror(errno));
}

void Supervisor::schedule_check(const std::string& name) {
    Child& c = children_.at(name);
    auto h = c.health;
    const std::uint64_t gen = h->generation;
    h->timer.expires_after(h->cfg.interval);
    h->timer.async_wait([this, h, gen, name](const boost::system::error_code& ec) {
        if (ec || gen != h->generation)
            return;
        if (!h->in_flight) {
            h->in_flight = true;
            h->check->run(h->started_wall, [this, h, gen, name](bool ok, const std::string& why) {
                if (gen != h->generation)
                    return;  // the process ended meanwhile
                h->in_flight = false;
                h->last = why;
                if (h->tracker.record(ok, boot_clock::now())) {
                    spdlog::warn("{} failed its {} health check {} times in a row: {}", name,
                                 h->cfg.type(), h->cfg.failure_threshold, why);
                    if (on_unhealthy_)
                        on_unhealthy_(name, why);
                }
            });
        }
        schedule_check(name);
    });
}

bool Supervisor::set_health_limits(const std::string& name, const config::HealthConfig& h) {
    auto it = children_.find(name);
    if (it == children_.end() || !it->second.health)
        return false;
    Health& health = *it->second.health;
    config::HealthConfig same = h;
    same.failure_threshold = health.cfg.failure_threshold;
    same.interval = health.cfg.interval;
    same.start_period = health.cfg.start_period;
    if (!(same == health.cfg))
        return false;
    health.cfg.failure_threshold = h.failure_threshold;
    health.cfg.interval = h.interval;  // takes effect from the next check on
    health.cfg.start_period = h.start_period;
    health.tracker.set_limits(h.failure_threshold, h.start_period);
    it->second.cfg.health = health.cfg;
    return true;
}

bool Supervisor::on_reaped(pid_t pid, int status) {
    for (auto& [name, c] : children_)
        if (c.health && c.health->check->on_reaped(pid, status))
            return true;
    for (auto& [name, c] : children_) {
        if (c.pid != pid || c.leader_reaped)
            continue;
        c.leader_reaped = true;
        c.how = describe_wait_status(status);
        // Stragglers of the session (the leader's children) are killed: the process is one unit.
        proc::signal_session(pid, SIGKILL);
        await_group_empty(name, 0);
        return true;
    }
    return false;
}

void Supervisor::await_group_empty(const std::string& name, int tries) {
    Child& c = children_.at(name);
    // As a child subreaper the daemon reaps the session's orphans itself; the process is gone
    // when no live member of its session is left.
    if (!proc::session_alive(c.pid)) {
        const std::string how = c.how;
        c.pid = 0;
        if (c.health) {
            ++c.health->generation;
            c.health->in_flight = false;
            c.health->timer.cancel();
        }
        on_exit_(name, how);
        return;
    }
    if (tries == 100)
        spdlog::warn("processes of {}'s session linger after SIGKILL", name);
    if (tries % 10 == 9)
        proc::signal_session(c.pid, SIGKILL);  // members that appeared since
    auto t = std::make_shared<boost::asio::steady_timer>(io_, std::chrono::milliseconds(10));
    t->async_wait([this, t, name, tries](const boost::system::error_code&) {
        await_group_empty(name, tries + 1);
    });
}

std::vector<pid_t> Supervisor::groups() const {
    std::vector<pid_t> g;
    for (const auto& [name, c] : children_)
        if (c.pid > 0)
            g.push_back(c.pid);
    return g;
}

std::vector<ports::ProcessStatus> Supervisor::describe() const {
    std::vector<ports::ProcessStatus> out;
    for (const auto& [name, c] : children_) {
        ports::ProcessStatus s;
        s.name = name;
        s.pid = std::max<pid_t>(0, c.pid);
        s.running = c.pid > 0 && !c.leader_reaped;
        s.restarts = std::max(0, c.restarts);
        s.term = c.term;
        if (c.health)
            s.health = ports::ProcessStatus::Health{c.health->cfg.type(), c.health->tracker.state(),
                                                    c.health->last};
        out.push_back(std::move(s));
    }
    return out;
}

bool Supervisor::any_down() const {
    for (const auto& [name, c] : children_)
        if (c.pid <= 0 || c.leader_reaped)
            return true;
    return false;
}

}  // namespace af::proc
