#include "af/proc/supervisor.hpp"

#include <signal.h>
#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>
#include <cerrno>
#include <chrono>
#include <memory>

#include "af/proc/spawn.hpp"

namespace af::proc {

Supervisor::Supervisor(boost::asio::io_context& io, std::vector<config::ProcessConfig> procs,
                       std::map<std::string, std::string> base_env, ExitHandler on_exit)
    : io_(io), base_env_(std::move(base_env)), on_exit_(std::move(on_exit)) {
    for (auto& p : procs) {
        const std::string name = p.name;
        Child c;
        c.cfg = std::move(p);
        children_[name] = std::move(c);
    }
}

void Supervisor::start(const std::string& name, std::int64_t term) {
    auto it = children_.find(name);
    if (it == children_.end())
        return;
    Child& c = it->second;
    SpawnSpec spec;
    spec.argv = c.cfg.command;
    spec.env_overrides = c.cfg.env;
    for (const auto& [k, v] : base_env_)
        spec.env_overrides[k] = v;
    spec.env_overrides["AIRFLOW_FAILOVER_TERM"] = std::to_string(term);
    spec.env_overrides["AIRFLOW_FAILOVER_PROCESS"] = name;
    spec.cwd = c.cfg.cwd;
    try {
        c.pid = spawn(spec);
        c.leader_reaped = false;
        c.term = term;
        ++c.restarts;
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

void Supervisor::signal(const std::string& name, int sig) {
    auto it = children_.find(name);
    if (it == children_.end() || it->second.pid <= 0)
        return;
    // The whole group: Airflow's scheduler forks executors and DAG parsers that must go too.
    if (kill(-it->second.pid, sig) != 0 && errno != ESRCH)
        spdlog::warn("kill({}, {}) for {} failed: {}", -it->second.pid, sig, name, strerror(errno));
}

bool Supervisor::on_reaped(pid_t pid, int status) {
    for (auto& [name, c] : children_) {
        if (c.pid != pid || c.leader_reaped)
            continue;
        c.leader_reaped = true;
        c.how = describe_wait_status(status);
        // Stragglers of the group (the leader's children) are killed: the process is one unit.
        kill(-pid, SIGKILL);
        await_group_empty(name, 0);
        return true;
    }
    return false;
}

void Supervisor::await_group_empty(const std::string& name, int tries) {
    Child& c = children_.at(name);
    // As a child subreaper the daemon reaps the group's orphans itself, so the group is gone
    // exactly when kill(-pgid, 0) says ESRCH.
    if (kill(-c.pid, 0) != 0 && errno == ESRCH) {
        const std::string how = c.how;
        c.pid = 0;
        on_exit_(name, how);
        return;
    }
    if (tries == 100)
        spdlog::warn("process group of {} lingers after SIGKILL", name);
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

bool Supervisor::any_alive() const {
    return !groups().empty();
}

nlohmann::json Supervisor::describe() const {
    auto arr = nlohmann::json::array();
    for (const auto& [name, c] : children_) {
        arr.push_back({{"name", name},
                       {"pid", c.pid > 0 ? nlohmann::json(c.pid) : nlohmann::json(nullptr)},
                       {"running", c.pid > 0 && !c.leader_reaped},
                       {"restarts", std::max(0, c.restarts)},
                       {"term", c.term}});
    }
    return arr;
}

}  // namespace af::proc

namespace af::proc {

bool Supervisor::any_down() const {
    for (const auto& [name, c] : children_)
        if (c.pid <= 0 || c.leader_reaped)
            return true;
    return false;
}

}  // namespace af::proc
