#pragma once

// The operating system as a ManagedProcess sees it (proc::ProcessOs), in memory and on
// simulated time: spawned children are numbers, a session is alive while it has members, a
// warm copy's channel is a queue the test writes lines into, a health check answers from a
// script. Nothing ends by itself: the test reaps (OsProcesses::on_reaped) as the kernel would.
#include <signal.h>

#include <deque>
#include <map>
#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "af/proc/process_os.hpp"
#include "sim_clock.hpp"

namespace af::fakes {

class FakeProcessOs : public proc::ProcessOs {
  public:
    /// Both ends of one warm copy's channel.
    struct Pipe {
        std::vector<std::string> sent;  ///< what the daemon wrote ("go 7\n")
        bool closed{false};             ///< the daemon closed its end (the copy reads EOF)
        proc::WarmChannel::OnRead on_read;
    };

    explicit FakeProcessOs(SimClock& clock) : clock_(clock) {}

    pid_t spawn(const proc::SpawnSpec& spec) override {
        if (!fail_spawn.empty())
            throw std::runtime_error(fail_spawn);
        const pid_t pid = next_pid_++;
        specs[pid] = spec;
        members[pid] = 1;
        alive.insert(pid);
        return pid;
    }

    std::pair<pid_t, std::unique_ptr<proc::WarmChannel>> spawn_warm(proc::SpawnSpec spec) override {
        const pid_t pid = spawn(spec);
        auto pipe = std::make_shared<Pipe>();
        pipes[pid] = pipe;
        return {pid, std::make_unique<Channel>(pipe)};
    }

    void signal_group(pid_t pgid, int sig) override { note(pgid, sig, "group"); }

    void signal_session(pid_t sid, int sig) override {
        note(sid, sig, "session");
        if (sig != SIGKILL)
            return;
        // A member that lingers survives this many SIGKILLs to the session (it was forked
        // after the scan, or is stuck in the kernel for a moment).
        if (auto it = lingering.find(sid); it != lingering.end() && it->second > 0) {
            --it->second;
            return;
        }
        members[sid] = 0;
        alive.erase(sid);
    }
    bool session_alive(pid_t sid) override { return members[sid] > 0; }
    bool running(pid_t pid) override { return alive.count(pid) > 0; }
    timespec mtime(const std::string& path) override {
        auto it = mtimes.find(path);
        return it == mtimes.end() ? timespec{-1, -1} : it->second;
    }

    std::unique_ptr<health::HealthCheck> health_check(const config::HealthConfig&,
                                                      const proc::SpawnSpec&) override {
        return std::make_unique<Check>(*this);
    }
    std::chrono::system_clock::time_point wall_now() override { return {}; }

    /// The copy `pid` writes `line` (read on a later turn of the loop).
    void say(pid_t pid, const std::string& line) {
        auto pipe = pipes.at(pid);
        clock_.post(Duration{0}, [pipe, line] {
            if (!pipe->closed && pipe->on_read)
                pipe->on_read({line, false});
        });
    }
    /// The child `pid` leaves its session (it exits; the caller then reaps it).
    void exit(pid_t pid) {
        alive.erase(pid);
        if (members[pid] > 0)
            --members[pid];
    }

    std::map<pid_t, proc::SpawnSpec> specs;
    std::map<pid_t, int> members;  ///< live members of each session
    std::map<pid_t, int> lingering;
    std::set<pid_t> alive;  ///< not a zombie
    std::map<pid_t, std::shared_ptr<Pipe>> pipes;
    std::map<std::string, timespec> mtimes;
    std::vector<std::string> signals;   ///< "SIGKILL session 1000", "SIGTERM group 1000"
    std::vector<TimePoint> kill_times;  ///< when each SIGKILL was sent
    std::string fail_spawn;             ///< non-empty: spawn throws this
    std::deque<bool> check_results;     ///< the health checks' answers; empty: healthy
    int checks_run{0};

  private:
    class Channel : public proc::WarmChannel {
      public:
        explicit Channel(std::shared_ptr<Pipe> p) : p_(std::move(p)) {}
        void read(OnRead on_read) override { p_->on_read = std::move(on_read); }
        std::string send(const std::string& msg) override {
            if (p_->closed)
                return "closed";
            p_->sent.push_back(msg);
            return {};
        }
        void close() override { p_->closed = true; }

      private:
        std::shared_ptr<Pipe> p_;
    };

    class Check : public health::HealthCheck {
      public:
        explicit Check(FakeProcessOs& os) : os_(os) {}
        void run(std::chrono::system_clock::time_point, Done done) override {
            ++os_.checks_run;
            bool ok = true;
            if (!os_.check_results.empty()) {
                ok = os_.check_results.front();
                os_.check_results.pop_front();
            }
            os_.clock_.post(Duration{1}, [done, ok] { done(ok, ok ? "ok" : "refused"); });
        }

      private:
        FakeProcessOs& os_;
    };

    void note(pid_t pid, int sig, const char* what) {
        static const std::map<int, std::string> names = {
            {SIGTERM, "SIGTERM"}, {SIGKILL, "SIGKILL"}, {SIGSTOP, "SIGSTOP"}, {SIGCONT, "SIGCONT"}};
        signals.push_back(names.at(sig) + " " + what + " " + std::to_string(pid));
        if (sig == SIGKILL)
            kill_times.push_back(clock_.now());
    }

    SimClock& clock_;
    pid_t next_pid_{1000};
};

}  // namespace af::fakes
