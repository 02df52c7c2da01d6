#include "af/hooks/hook_runner.hpp"

#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/post.hpp>

#include "af/proc/session.hpp"
#include "af/proc/spawn.hpp"

namespace af::hooks {

const char* to_string(Outcome::Kind k) {
    switch (k) {
        case Outcome::Kind::ok:
            return "ok";
        case Outcome::Kind::failed:
            return "failed";
        case Outcome::Kind::timed_out:
            return "timeout";
        case Outcome::Kind::not_started:
            return "not_started";
        case Outcome::Kind::dropped:
            return "dropped";
    }
    return "?";
}

HookRunner::HookRunner(boost::asio::io_context& io, std::string name, config::HookConfig cfg,
                       std::size_t max_queued, bool coalesce)
    : io_(io),
      name_(std::move(name)),
      cfg_(std::move(cfg)),
      max_queued_(max_queued),
      coalesce_(coalesce),
      timer_(io) {}

HookRunner::~HookRunner() {
    shutdown();
}

void HookRunner::enqueue(proc::EnvPolicy env, Done done) {
    if (stopped_)
        return;
    while (coalesce_ && !queue_.empty()) {
        Run superseded = std::move(queue_.front());
        queue_.pop_front();
        if (superseded.done)
            superseded.done({Outcome::Kind::dropped, "dropped: superseded by a newer run"});
    }
    if (queue_.size() >= max_queued_) {
        Run dropped = std::move(queue_.front());
        queue_.pop_front();
        if (dropped.done)
            dropped.done(
                {Outcome::Kind::dropped,
                 "dropped: more than " + std::to_string(max_queued_) + " runs were waiting"});
    }
    queue_.push_back({std::move(env), std::move(done)});
    if (pid_ == 0)
        start_next();
}

void HookRunner::start_next() {
    while (pid_ == 0 && !queue_.empty() && !stopped_) {
        current_ = std::move(queue_.front());
        queue_.pop_front();
        try {
            proc::SpawnSpec spec;
            spec.argv = cfg_.command;
            spec.env = current_.env;
            pid_ = proc::spawn(spec);
        } catch (const std::exception& e) {
            // Reported after this call returns, like every other outcome: the caller's state
            // is never re-entered from inside enqueue().
            Outcome o{Outcome::Kind::not_started, std::string("could not start: ") + e.what()};
            Done done = std::move(current_.done);
            boost::asio::post(io_, [done = std::move(done), o] {
                if (done)
                    done(o);
            });
            continue;
        }
        timed_out_ = false;
        started_ = std::chrono::steady_clock::now();
        const pid_t pid = pid_;
        timer_.expires_after(cfg_.timeout);
        timer_.async_wait([this, pid](const boost::system::error_code& ec) {
            if (ec || pid_ != pid)
                return;
            timed_out_ = true;
            spdlog::warn(
                "hook {} (pid {}) still running after {} ms; killing it and everything "
                "it started",
                name_, pid, cfg_.timeout.count());
            proc::kill_session_tree(pid);
        });
    }
}

bool HookRunner::on_reaped(pid_t pid, int status) {
    if (pid_ == 0 || pid != pid_)
        return false;
    pid_ = 0;
    timer_.cancel();
    // Whatever the hook left behind in its session goes with it.
    proc::kill_session_tree(pid);
    Outcome o;
    if (timed_out_)
        o = {Outcome::Kind::timed_out,
             "killed after the " + std::to_string(cfg_.timeout.count()) + " ms timeout"};
    else if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        o = {Outcome::Kind::ok, "exited with status 0"};
    else
        o = {Outcome::Kind::failed, proc::describe_wait_status(status)};
    finish(o);
    start_next();
    return true;
}

void HookRunner::finish(const Outcome& o) {
    Done done = std::move(current_.done);
    current_ = Run{};
    if (done)
        done(o);
}

void HookRunner::drain(Duration budget) {
    using clock = std::chrono::steady_clock;
    const auto until = clock::now() + budget;
    for (;;) {
        if (pid_ == 0)
            start_next();
        if (pid_ == 0)
            return;
        const pid_t pid = pid_;
        const auto run_until = std::min(until, started_ + cfg_.timeout);
        int status = 0;
        pid_t got = 0;
        while ((got = waitpid(pid, &status, WNOHANG)) == 0 && clock::now() < run_until)
            usleep(10000);
        if (got != pid) {
            timed_out_ = true;
            proc::kill_session_tree(pid);
            if (waitpid(pid, &status, 0) != pid)
                status = 0;
        }
        on_reaped(pid, status);
        if (clock::now() >= until) {
            stopped_ = true;  // what is still queued is dropped
            queue_.clear();
            return;
        }
    }
}

void HookRunner::shutdown() {
    stopped_ = true;
    queue_.clear();
    timer_.cancel();
    if (pid_ > 0)
        proc::kill_session_tree(pid_);
}

}  // namespace af::hooks
