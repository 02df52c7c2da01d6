// Run a command as the checked process runs (its user, cwd, environment); healthy on exit
// status 0 within the timeout (killed otherwise).
#include <signal.h>
#include <sys/wait.h>

#include <boost/asio/steady_timer.hpp>

#include "af/health/health_check.hpp"
#include "af/proc/session.hpp"
#include "af/proc/spawn.hpp"

namespace af::health {

namespace {

class CommandCheck final : public HealthCheck {
  public:
    CommandCheck(boost::asio::io_context& io, const config::CommandHealth& c, Duration timeout,
                 proc::SpawnSpec context)
        : timer_(io), argv_(c.command), timeout_(timeout), context_(std::move(context)) {}

    void run(std::chrono::system_clock::time_point, Done done) override {
        done_ = std::move(done);
        proc::SpawnSpec spec = context_;
        spec.argv = argv_;
        try {
            pid_ = proc::spawn(spec);
        } catch (const std::exception& e) {
            pid_ = 0;
            auto d = std::move(done_);
            return d(false, e.what());
        }
        timer_.expires_after(timeout_);
        timer_.async_wait([this](const boost::system::error_code& ec) {
            if (ec || pid_ == 0)
                return;
            // Everything it started too, also a child that left for a session of its own: a
            // hanging check must not leave a process behind at every interval.
            proc::kill_session_tree(pid_);  // reaped through on_reaped, reported there
            timed_out_ = true;
        });
    }

    bool on_reaped(pid_t pid, int status) override {
        if (pid == 0 || pid != pid_)
            return false;
        proc::kill_session_tree(pid);  // what it left behind in its session
        pid_ = 0;
        timer_.cancel();
        const bool ok = !timed_out_ && WIFEXITED(status) && WEXITSTATUS(status) == 0;
        const std::string why =
            timed_out_ ? "timed out" : argv_.front() + " " + proc::describe_wait_status(status);
        timed_out_ = false;
        auto d = std::move(done_);
        if (d)
            d(ok, why);
        return true;
    }

  private:
    boost::asio::steady_timer timer_;
    std::vector<std::string> argv_;
    Duration timeout_;
    proc::SpawnSpec context_;
    pid_t pid_{0};
    bool timed_out_{false};
    Done done_;
};

}  // namespace

std::unique_ptr<HealthCheck> make_check(boost::asio::io_context& io, const config::CommandHealth& c,
                                        Duration timeout, const proc::SpawnSpec& context) {
    return std::make_unique<CommandCheck>(io, c, timeout, context);
}

}  // namespace af::health
