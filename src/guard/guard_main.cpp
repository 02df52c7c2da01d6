#include "af/guard/guard_main.hpp"

#include <dirent.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "af/db/connection.hpp"
#include "af/db/lease_sql.hpp"
#include "af/guard/guard_protocol.hpp"

namespace af::guard {

namespace {

void log(const std::string& msg) {
    std::fprintf(stderr, "[guard %d] %s\n", getpid(), msg.c_str());
}

/// True while any process of group `pgid` is alive (zombies do not count: whoever inherited
/// them may be slow to reap, and they can run nothing).
bool group_alive(pid_t pgid) {
    if (kill(-pgid, 0) != 0 && errno == ESRCH)
        return false;
    DIR* d = opendir("/proc");
    if (!d)
        return true;
    bool alive = false;
    while (dirent* e = readdir(d)) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        std::ifstream f(std::string("/proc/") + e->d_name + "/stat");
        std::string stat;
        if (!std::getline(f, stat))
            continue;
        const auto rp = stat.rfind(')');
        if (rp == std::string::npos)
            continue;
        char state = 0;
        long ppid = 0, pgrp = 0;
        if (std::sscanf(stat.c_str() + rp + 1, " %c %ld %ld", &state, &ppid, &pgrp) != 3)
            continue;
        if (pgrp == pgid && state != 'Z' && state != 'X') {
            alive = true;
            break;
        }
    }
    closedir(d);
    return alive;
}

void kill_groups(const GuardState& s) {
    for (pid_t g : s.groups)
        kill(-g, SIGKILL);
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
            gone = gone && !group_alive(g);
        if (!gone)
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
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
        db::LeaseSql lease(conf.at("schema").get<std::string>(),
                           conf.at("cluster").get<std::string>(),
                           conf.at("node_id").get<std::string>());
        const bool ok = lease.release(*c, *s.term);
        log(std::string("daemon gone; processes killed; lease term ") + std::to_string(*s.term) +
            (ok ? " released" : " was no longer ours"));
    } catch (const std::exception& e) {
        log(std::string("daemon gone; processes killed; release failed: ") + e.what());
    }
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
    for (;;) {
        int timeout = -1;
        if (s.term && !s.fired && !s.groups.empty()) {
            const auto left = s.deadline - boot_clock::now();
            timeout = static_cast<int>(
                std::max<long long>(0, std::chrono::ceil<std::chrono::milliseconds>(left).count()));
        }
        pollfd p{fd, POLLIN, 0};
        const int n = poll(&p, 1, timeout);
        if (s.due(boot_clock::now())) {
            kill_groups(s);
            s.fired = true;
            log("lease deadline passed without extension: killed process groups");
        }
        if (n <= 0)
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
        if (s.due(boot_clock::now())) {
            kill_groups(s);
            s.fired = true;
            log("lease deadline passed without extension: killed process groups");
        }
    }
}

}  // namespace af::guard
