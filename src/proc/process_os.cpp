#include "af/proc/process_os.hpp"

#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <istream>
#include <system_error>

#include "af/proc/session.hpp"

namespace af::proc {

namespace {

/// The channel over the daemon's end of the socketpair. Reads run on the loop and hold the
/// state, not the channel, so a read that completes after close() finds `closed` and stops.
class AsioWarmChannel : public WarmChannel {
  public:
    AsioWarmChannel(boost::asio::io_context& io, int fd) : s_(std::make_shared<State>(io, fd)) {}
    ~AsioWarmChannel() override { close(); }

    void read(OnRead on_read) override {
        s_->on_read = std::move(on_read);
        next(s_);
    }
    std::string send(const std::string& msg) override {
        const ssize_t n = ::send(s_->sd.native_handle(), msg.data(), msg.size(), MSG_NOSIGNAL);
        if (n == static_cast<ssize_t>(msg.size()))
            return {};
        return n < 0 ? strerror(errno) : "short write";
    }
    void close() override {
        if (s_->closed)
            return;
        s_->closed = true;
        boost::system::error_code ignored;
        s_->sd.close(ignored);
    }

  private:
    struct State {
        State(boost::asio::io_context& io, int fd) : sd(io, fd), buf(k_warm_max_line) {}
        boost::asio::posix::stream_descriptor sd;
        boost::asio::streambuf buf;
        OnRead on_read;
        bool closed{false};
    };
    static void next(const std::shared_ptr<State>& s) {
        boost::asio::async_read_until(
            s->sd, s->buf, '\n', [s](const boost::system::error_code& ec, std::size_t) {
                if (s->closed)
                    return;
                Read r;
                if (ec == boost::asio::error::not_found) {
                    r.overflow = true;  // the buffer's limit: no line in k_warm_max_line bytes
                } else if (!ec) {
                    std::istream in(&s->buf);
                    r.line.emplace();
                    std::getline(in, *r.line);
                }
                const bool more = r.line.has_value();
                s->on_read(r);
                if (more && !s->closed)
                    next(s);
            });
    }
    std::shared_ptr<State> s_;
};

class OsCalls : public ProcessOs {
  public:
    explicit OsCalls(boost::asio::io_context& io) : io_(io) {}

    pid_t spawn(const SpawnSpec& spec) override { return proc::spawn(spec); }

    std::pair<pid_t, std::unique_ptr<WarmChannel>> spawn_warm(SpawnSpec spec) override {
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
            throw std::system_error(errno, std::generic_category(), "socketpair");
        spec.pass_fd = sv[1];  // spawn puts it at fd 3 (k_warm_fd)
        pid_t pid = 0;
        try {
            pid = proc::spawn(spec);
        } catch (...) {
            ::close(sv[0]);
            ::close(sv[1]);
            throw;
        }
        ::close(sv[1]);
        return {pid, std::make_unique<AsioWarmChannel>(io_, sv[0])};
    }

    void signal_group(pid_t pgid, int sig) override {
        if (kill(-pgid, sig) != 0 && errno != ESRCH)
            spdlog::warn("kill({}, {}) failed: {}", -pgid, sig, strerror(errno));
    }
    void signal_session(pid_t sid, int sig) override { proc::signal_session(sid, sig); }
    bool session_alive(pid_t sid) override { return proc::session_alive(sid); }

    bool running(pid_t pid) override {
        std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
        std::string stat;
        if (pid <= 0 || !std::getline(in, stat))
            return false;
        const auto rp = stat.rfind(')');
        return rp != std::string::npos && rp + 2 < stat.size() && stat[rp + 2] != 'Z' &&
               stat[rp + 2] != 'X';
    }

    timespec mtime(const std::string& path) override {
        struct stat st {};
        if (stat(path.c_str(), &st) != 0)
            return {-1, -1};
        return st.st_mtim;
    }

    std::unique_ptr<health::HealthCheck> health_check(const config::HealthConfig& c,
                                                      const SpawnSpec& context) override {
        return health::make_check(io_, c, context);
    }

    std::chrono::system_clock::time_point wall_now() override {
        return std::chrono::system_clock::now();
    }

  private:
    boost::asio::io_context& io_;
};

}  // namespace

std::unique_ptr<ProcessOs> make_process_os(boost::asio::io_context& io) {
    return std::make_unique<OsCalls>(io);
}

}  // namespace af::proc
