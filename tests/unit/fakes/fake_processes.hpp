#pragma once

// The ProcessControl port in memory. A process "runs" from start until it is killed or
// crashes; SIGTERM ends it after stop_delay, SIGKILL at once (the exit is reported after the
// reap delay, as the real supervisor reports it once the group is gone). Every node's fake
// reports to one World, which checks the invariant the whole design is for: never two
// unfrozen copies of a process at once.
#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "af/ports/process_control.hpp"
#include "sim_clock.hpp"

namespace af::fakes {

struct World {
    /// (node, process) pairs alive and not frozen.
    std::map<std::string, std::set<std::string>> working;  // process -> nodes
    int overlaps{0};
    std::vector<std::string> trace;  ///< "<node> <what>" for every process action and renewal
    void set_working(const std::string& node, const std::string& name, bool on) {
        auto& nodes = working[name];
        if (on) {
            nodes.insert(node);
            if (nodes.size() > 1)
                ++overlaps;
        } else {
            nodes.erase(node);
        }
    }
};

class FakeProcesses : public ports::ProcessControl {
  public:
    struct Proc {
        bool alive{false};
        bool frozen{false};
        pid_t pid{0};
        std::int64_t term{0};
        int starts{0};
        int kills{0};
    };

    FakeProcesses(SimClock& c, World& w, std::string node,
                  const std::vector<config::ProcessConfig>& procs)
        : clock_(c), world_(w), node_(std::move(node)) {
        for (const auto& p : procs)
            procs_[p.name];
    }

    void listen(ports::EventSink sink) override { sink_ = std::move(sink); }
    void start(const std::string& name, std::int64_t term) override {
        Proc& p = procs_.at(name);
        p.alive = true;
        p.frozen = false;
        p.pid = next_pid_++;
        p.term = term;
        ++p.starts;
        note("start " + name);
        world_.set_working(node_, name, true);
    }
    bool go_warm(const std::string&, std::int64_t) override { return false; }
    void signal(const std::string& name, ports::ProcSignal s) override {
        Proc& p = procs_.at(name);
        note(std::string(ports::to_string(s)) + " " + name);
        if (!p.alive)
            return;
        switch (s) {
            case ports::ProcSignal::stop:
                if (!p.frozen)  // a stopped process handles SIGTERM once thawed
                    end(name, stop_delay, "exited with status 0");
                break;
            case ports::ProcSignal::kill:
                ++p.kills;
                end(name, Duration{0}, "killed by signal 9");
                break;
            case ports::ProcSignal::freeze:
                p.frozen = true;
                world_.set_working(node_, name, false);
                break;
            case ports::ProcSignal::thaw:
                p.frozen = false;
                world_.set_working(node_, name, true);
                break;
        }
    }
    void warm_start(const std::string&) override {}
    void warm_stop(const std::string&) override {}
    void warm_all_stale(const std::string&) override {}
    bool set_health_limits(const std::string& name, const config::HealthConfig&) override {
        health_limits_set.push_back(name);
        return true;
    }
    void shutdown() override { shut_down = true; }

    std::vector<pid_t> groups() const override {
        std::vector<pid_t> g;
        for (const auto& [name, p] : procs_)
            if (p.alive)
                g.push_back(p.pid);
        return g;
    }
    bool any_down() const override {
        return std::any_of(procs_.begin(), procs_.end(),
                           [](const auto& kv) { return !kv.second.alive; });
    }
    std::vector<ports::ProcessStatus> describe() const override {
        std::vector<ports::ProcessStatus> out;
        for (const auto& [name, p] : procs_) {
            ports::ProcessStatus s;
            s.name = name;
            s.pid = p.alive ? p.pid : 0;
            s.running = p.alive;
            s.restarts = std::max(0, p.starts - 1);
            s.term = p.term;
            out.push_back(std::move(s));
        }
        return out;
    }
    std::optional<std::vector<ports::WarmStatus>> describe_warm() const override {
        return std::nullopt;
    }

    /// The process dies by itself (a crash), or the whole node dies with it (kill_all).
    void crash(const std::string& name, const std::string& how = "exited with status 1") {
        end(name, Duration{0}, how);
    }
    /// What the guard does when the daemon dies while armed: SIGKILL to every group.
    void kill_all_now() {
        for (auto& [name, p] : procs_)
            if (p.alive) {
                p.alive = false;
                world_.set_working(node_, name, false);
            }
        sink_ = nullptr;
    }

    const Proc& proc(const std::string& name) const { return procs_.at(name); }
    bool alive(const std::string& name) const { return procs_.at(name).alive; }
    std::vector<std::string> log;  ///< "start scheduler", "SIGKILL scheduler", ...
    std::vector<std::string> health_limits_set;
    Duration stop_delay{50};
    bool shut_down{false};

  private:
    void note(const std::string& what) {
        log.push_back(what);
        world_.trace.push_back(node_ + " " + what);
    }
    void end(const std::string& name, Duration after, const std::string& how) {
        Proc& p = procs_.at(name);
        const pid_t pid = p.pid;
        auto gone = [this, name, pid, how] {
            Proc& q = procs_.at(name);
            if (!q.alive || q.pid != pid)
                return;
            q.alive = false;
            world_.set_working(node_, name, false);
            // Reaped, and the group is empty: reported a moment later.
            clock_.post(Duration{1}, [this, name, how] {
                if (sink_)
                    sink_(core::ev::process_exited{name, how});
            });
        };
        if (after.count() == 0)
            gone();
        else
            clock_.post(after, gone);
    }

    SimClock& clock_;
    World& world_;
    std::string node_;
    std::map<std::string, Proc> procs_;
    ports::EventSink sink_;
    pid_t next_pid_{1000};
};

}  // namespace af::fakes
