#include "af/guard/guard_main.hpp"

#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "af/db/connection.hpp"
#include "af/db/lease_sql.hpp"
#include "af/db/state_sql.hpp"
#include "af/guard/guard_protocol.hpp"
#include "af/proc/session.hpp"
#include "af/util/boot_timer.hpp"

namespace af::guard {

namespace {

void log(const std::string& msg) {
    std::fprintf(stderr, "[guard %d] %s\n", getpid(), msg.c_str());
}

/// The "groups" are the managed processes' sessions (sid == pgid == leader pid): kill all of it.
void kill_groups(const GuardState& s) {
    for (pid_t g : s.groups)
        proc::signal_session(g, SIGKILL);
}

void parent_gone(const GuardState& s) {
    if (s.groups.empty() && !s.term)
        return;
    kill_groups(s);
    const TimePoint give_up = boot_clock::now() + std::chrono::seconds(10);
    bool gone = false;
    while (!gone && boot_clock::now() < give_up) {
        gone = true;
        for (pid_t g : s.groups)
            gone = gone && !proc::session_alive(g);
        if (!gone) {
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
            kill_groups(s);  // members that were forked meanwhile
        }
    }
    if (!gone) {
        log("daemon gone but its processes did not die; not releasing the lease");
        return;
    }
    if (!s.term)
        return;
    try {
        const auto conf = nlohmann::json::parse(s.conf_json);
        auto c = db::open_connection(conf.at("conninfo").get<std::string>(), Duration{2000},
                                     Duration{2000});
        const db::Scope scope{conf.at("schema").get<std::string>(),
                              conf.at("cluster").get<std::string>()};
        const auto node_id = conf.at("node_id").get<std::string>();
        db::LeaseSql lease(scope, node_id);
        // Recorded before the release: once the release commits, the next node may win and
        // record its term at once, and this term's end must come first in the log. Without it
        // `status`, `history` and the dashboard would show no end of the dead daemon's term.
        db::StateSql state(scope, node_id);
        state.record(*c, "daemon_died",
                     "the guard killed its processes and releases term " + std::to_string(*s.term),
                     *s.term);
        const bool ok = lease.release(*c, *s.term);
        log(std::string("daemon gone; processes killed; lease term ") + std::to_string(*s.term) +
            (ok ? " released" : " was no longer ours"));
        state.mark_down(*c, "daemon gone; its guard " +
                                std::string(ok ? "released" : "found expired") + " term " +
                                std::to_string(*s.term));
    } catch (const std::exception& e) {
        log(std::string("daemon gone; processes killed; release failed: ") + e.what());
    }
}

/// The deadline passed without an extension (the daemon is frozen or hung): kill, once a term.
void fire_if_due(GuardState& s) {
    if (!s.due(boot_clock::now()))
        return;
    kill_groups(s);
    s.fired = true;
    log("lease deadline passed without extension: killed process groups");
}

}  // namespace

int guard_main(int fd) {
    // The guard follows its pipe, not signals: Ctrl-C or a service stop reach the daemon, which
    // disarms the guard and closes the pipe in order.
    signal(SIGINT, SIG_IGN);
    signal(SIGTERM, SIG_IGN);
    signal(SIGHUP, SIG_IGN);
    signal(SIGPIPE, SIG_IGN);
    prctl(PR_SET_NAME, "af-guard");
    GuardState s;
    std::string buf;
    // The deadline waits on a boot-clock timerfd, not on poll's timeout: poll sleeps on
    // CLOCK_MONOTONIC, which stops during a suspend, and would kill late after the resume.
    const int deadline_fd = timerfd::create();
    for (;;) {
        if (s.term && !s.fired && !s.groups.empty())
            timerfd::arm_at(deadline_fd, s.deadline);
        else
            timerfd::disarm(deadline_fd);
        pollfd p[2] = {{fd, POLLIN, 0}, {deadline_fd, POLLIN, 0}};
        const int n = poll(p, 2, -1);
        if (n > 0 && (p[1].revents & POLLIN))
            timerfd::consume(deadline_fd);
        fire_if_due(s);
        if (n <= 0 || !(p[0].revents & (POLLIN | POLLHUP | POLLERR)))
            continue;
        char chunk[4096];
        const ssize_t r = read(fd, chunk, sizeof chunk);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            parent_gone(s);
            return 0;
        }
        buf.append(chunk, static_cast<std::size_t>(r));
        for (auto nl = buf.find('\n'); nl != std::string::npos; nl = buf.find('\n')) {
            const std::string line = buf.substr(0, nl);
            buf.erase(0, nl + 1);
            if (!s.apply(line))
                log("ignored malformed command: " + line.substr(0, 40));
        }
        fire_if_due(s);
    }
}

}  // namespace af::guard
