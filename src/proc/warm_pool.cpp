#include "af/proc/warm_pool.hpp"

#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/post.hpp>
#include <boost/asio/read_until.hpp>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <istream>

#include "af/proc/session.hpp"
#include "af/proc/spawn.hpp"

namespace af::proc {

namespace {

/// A watched path's mtime; {-1, -1} when it cannot be read (its appearing is a change too).
timespec mtime_of(const std::string& path) {
    struct stat st {};
    if (stat(path.c_str(), &st) != 0)
        return {-1, -1};
    return st.st_mtim;
}

bool same(const timespec& a, const timespec& b) {
    return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec;
}

/// True while `pid` exists and is not a zombie (a copy that said "ready" and died is not ready).
bool running(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string stat;
    if (pid <= 0 || !std::getline(in, stat))
        return false;
    const auto rp = stat.rfind(')');
    return rp != std::string::npos && rp + 2 < stat.size() && stat[rp + 2] != 'Z' &&
           stat[rp + 2] != 'X';
}

constexpr std::chrono::milliseconds k_watch_every{1000};
/// After EOF on its channel a warm copy has this long to exit by itself before the SIGKILL.
constexpr std::chrono::milliseconds k_stop_grace{2000};

}  // namespace

WarmPool::WarmPool(boost::asio::io_context& io, const std::vector<config::ProcessConfig>& procs,
                   ChildEnv base_env, ReadyHandler on_ready, ExitHandler on_exit,
                   StaleHandler on_stale)
    : io_(io),
      base_env_(std::move(base_env)),
      on_ready_(std::move(on_ready)),
      on_exit_(std::move(on_exit)),
      on_stale_(std::move(on_stale)),
      watch_timer_(io) {
    bool watching = false;
    for (const auto& p : procs) {
        if (!p.warm_enabled())
            continue;
        cfgs_[p.name] = p;
        watching = watching || !p.warm->watch_paths.empty();
    }
    if (watching)
        schedule_watch();
}

WarmPool::~WarmPool() = default;

void WarmPool::start(const std::string& name) {
    auto it = cfgs_.find(name);
    if (it == cfgs_.end())
        return;
    const config::ProcessConfig& c = it->second;
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
        const std::string why = std::string("socketpair: ") + strerror(errno);
        spdlog::error("cannot start a warm {}: {}", name, why);
        boost::asio::post(io_, [this, name, why] { on_exit_(name, "failed to start: " + why); });
        return;
    }
    SpawnSpec spec;
    spec.argv = c.command;
    // No AIRFLOW_FAILOVER_TERM: there is no term yet; it comes with go.
    spec.env = ChildEnv(base_env_).process(name, c.env, c.inherit_env).warm_fd(k_warm_fd).policy();
    spec.cwd = c.cwd;
    spec.pass_fd = sv[1];  // spawn puts it at fd 3 (k_warm_fd)
    Warm w;
    for (const auto& path : c.warm->watch_paths)
        w.mtimes[path] = mtime_of(path);
    try {
        if (c.user)
            spec.run_as = resolve_run_as(*c.user, c.group);
        w.pid = spawn(spec);
    } catch (const std::exception& e) {
        close(sv[0]);
        close(sv[1]);
        spdlog::error("cannot start a warm {}: {}", name, e.what());
        boost::asio::post(io_, [this, name, what = std::string(e.what())] {
            on_exit_(name, "failed to start: " + what);
        });
        return;
    }
    close(sv[1]);
    w.channel = std::make_unique<boost::asio::posix::stream_descriptor>(io_, sv[0]);
    w.buf = std::make_shared<boost::asio::streambuf>(k_warm_max_line);
    w.generation = ++next_generation_;
    const std::uint64_t gen = w.generation;
    spdlog::info("started a warm {} (pid {}), waiting for its ready", name, w.pid);
    warm_[name] = std::move(w);
    read_line(name, gen);
}

void WarmPool::read_line(const std::string& name, std::uint64_t gen) {
    Warm& w = warm_.at(name);
    auto buf = w.buf;
    boost::asio::async_read_until(
        *w.channel, *buf, '\n',
        [this, name, gen, buf](const boost::system::error_code& ec, std::size_t) {
            auto it = warm_.find(name);
            if (it == warm_.end() || it->second.generation != gen || !it->second.channel)
                return;  // closed, or an older copy
            if (ec == boost::asio::error::not_found) {
                // The buffer's limit: no line in k_warm_max_line bytes.
                kill_copy(it->second, name,
                          "wrote more than " + std::to_string(k_warm_max_line) +
                              " bytes without a newline on its channel");
                return;
            }
            if (ec)
                return;  // EOF: its end is told by the reap
            std::istream in(buf.get());
            std::string line;
            std::getline(in, line);
            if (line == "ready") {
                if (it->second.ready) {
                    // already ready: nothing new
                } else if (!running(it->second.pid)) {
                    spdlog::warn("warm {} (pid {}) said ready but is no longer running", name,
                                 it->second.pid);
                } else {
                    it->second.ready = true;
                    on_ready_(name);
                }
            } else {
                spdlog::info("warm {} says: {}", name, line.substr(0, 200));
            }
            if (warm_.count(name) && warm_.at(name).generation == gen && warm_.at(name).channel)
                read_line(name, gen);
        });
}

pid_t WarmPool::go(const std::string& name, std::int64_t term) {
    auto it = warm_.find(name);
    if (it == warm_.end() || !it->second.ready || !it->second.channel)
        return 0;
    Warm& w = it->second;
    const std::string msg = "go " + std::to_string(term) + "\n";
    const ssize_t n = send(w.channel->native_handle(), msg.data(), msg.size(), MSG_NOSIGNAL);
    if (n != static_cast<ssize_t>(msg.size())) {
        const std::string why = n < 0 ? strerror(errno) : "short write";
        spdlog::warn("cannot send go to the warm {} (pid {}): {}; starting it cold", name, w.pid,
                     why);
        // It must not linger beside the cold start: it might still read a partial go, or hold
        // whatever it had opened.
        kill_copy(w, name, "go could not be sent (" + why + ")");
        return 0;
    }
    const pid_t pid = w.pid;
    // Closing our end after go is no EOF-before-go: the process has the go line first.
    close_channel(w);
    warm_.erase(it);
    spdlog::info("sent go (term {}) to the warm {} (pid {})", term, name, pid);
    return pid;
}

void WarmPool::kill_copy(Warm& w, const std::string& name, std::string why) {
    spdlog::warn("killing the warm {} (pid {}): it {}", name, w.pid, why);
    w.killed_for = std::move(why);
    w.ready = false;
    close_channel(w);
    signal_session(w.pid, SIGKILL);
}

void WarmPool::close_channel(Warm& w) {
    if (!w.channel)
        return;
    boost::system::error_code ignored;
    w.channel->close(ignored);
    w.channel.reset();
}

void WarmPool::stop(const std::string& name) {
    auto it = warm_.find(name);
    if (it == warm_.end())
        return;
    Warm& w = it->second;
    close_channel(w);  // EOF: the warm process exits by itself
    const std::uint64_t gen = w.generation;
    const pid_t pid = w.pid;
    spdlog::info("stopping the warm {} (pid {}): closed its channel", name, pid);
    auto t = std::make_shared<boost::asio::steady_timer>(io_, k_stop_grace);
    t->async_wait([this, t, name, gen, pid](const boost::system::error_code&) {
        auto it2 = warm_.find(name);
        if (it2 != warm_.end() && it2->second.generation == gen) {
            spdlog::info("the warm {} (pid {}) did not exit on EOF (still importing?); killing it",
                         name, pid);
            signal_session(pid, SIGKILL);
        }
    });
}

void WarmPool::all_stale(const std::string& why) {
    std::vector<std::string> names;
    for (auto& [name, w] : warm_)
        if (w.channel && !w.stale_reported) {
            w.stale_reported = true;
            names.push_back(name);
        }
    for (const auto& name : names)
        on_stale_(name, why);
}

void WarmPool::shutdown() {
    watch_timer_.cancel();
    for (auto& [name, w] : warm_) {
        close_channel(w);
        signal_session(w.pid, SIGKILL);
    }
}

bool WarmPool::on_reaped(pid_t pid, int status) {
    for (auto it = warm_.begin(); it != warm_.end(); ++it) {
        if (it->second.pid != pid)
            continue;
        const std::string name = it->first;
        signal_session(pid, SIGKILL);  // anything it started goes with it
        close_channel(it->second);
        const std::string killed_for = std::move(it->second.killed_for);
        warm_.erase(it);
        const std::string how = killed_for.empty() ? describe_wait_status(status)
                                                   : "was killed: it " + killed_for + " (" +
                                                         describe_wait_status(status) + ")";
        spdlog::info("warm {} (pid {}) {}", name, pid, how);
        on_exit_(name, how);
        return true;
    }
    return false;
}

void WarmPool::schedule_watch() {
    watch_timer_.expires_after(k_watch_every);
    watch_timer_.async_wait([this](const boost::system::error_code& ec) {
        if (ec)
            return;
        check_paths();
        schedule_watch();
    });
}

void WarmPool::check_paths() {
    std::vector<std::pair<std::string, std::string>> stale;
    for (auto& [name, w] : warm_) {
        if (!w.channel || w.stale_reported)
            continue;
        for (const auto& [path, was] : w.mtimes) {
            if (same(mtime_of(path), was))
                continue;
            w.stale_reported = true;
            stale.emplace_back(name, "watched path " + path + " changed");
            break;
        }
    }
    for (const auto& [name, why] : stale)
        on_stale_(name, why);
}

std::vector<ports::WarmStatus> WarmPool::describe() const {
    std::vector<ports::WarmStatus> out;
    for (const auto& [name, w] : warm_)
        out.push_back({name, w.pid, w.ready, !w.channel});
    return out;
}

}  // namespace af::proc
