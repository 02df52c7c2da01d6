#include "af/proc/session.hpp"

#include <dirent.h>
#include <signal.h>

#include <cerrno>
#include <cstdio>
#include <fstream>
#include <set>
#include <string>

namespace af::proc {

namespace {

struct ProcStat {
    pid_t pid;
    char state;
    pid_t ppid;
    pid_t session;
};

/// Calls f(ProcStat) for every process in /proc.
template <class F>
void for_each_process(F&& f) {
    DIR* d = opendir("/proc");
    if (!d)
        return;
    while (dirent* e = readdir(d)) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        std::ifstream in(std::string("/proc/") + e->d_name + "/stat");
        std::string stat;
        if (!std::getline(in, stat))
            continue;
        // The command name may hold spaces and parentheses: parse after the last ')'.
        const auto rp = stat.rfind(')');
        if (rp == std::string::npos)
            continue;
        char state = 0;
        long ppid = 0, pgrp = 0, session = 0;
        if (std::sscanf(stat.c_str() + rp + 1, " %c %ld %ld %ld", &state, &ppid, &pgrp, &session) !=
            4)
            continue;
        f(ProcStat{static_cast<pid_t>(std::stol(e->d_name)), state, static_cast<pid_t>(ppid),
                   static_cast<pid_t>(session)});
    }
    closedir(d);
}

/// The live members of `root`'s session and every live descendant of them.
std::set<pid_t> session_tree(pid_t root) {
    std::vector<ProcStat> all;
    for_each_process([&](const ProcStat& p) { all.push_back(p); });
    std::set<pid_t> tree;
    for (const auto& p : all)
        if (p.session == root || p.pid == root)
            tree.insert(p.pid);
    for (bool grew = true; grew;) {
        grew = false;
        for (const auto& p : all)
            if (!tree.count(p.pid) && tree.count(p.ppid)) {
                tree.insert(p.pid);
                grew = true;
            }
    }
    std::set<pid_t> live;
    for (const auto& p : all)
        if (tree.count(p.pid) && p.state != 'Z' && p.state != 'X')
            live.insert(p.pid);
    return live;
}

/// Calls f(pid, state) for every process whose session is `sid`.
template <class F>
void for_each_in_session(pid_t sid, F&& f) {
    for_each_process([&](const ProcStat& p) {
        if (p.session == sid)
            f(p.pid, p.state);
    });
}

}  // namespace

std::vector<pid_t> session_members(pid_t sid) {
    std::vector<pid_t> out;
    if (sid <= 1)
        return out;
    for_each_in_session(sid, [&](pid_t pid, char state) {
        if (state != 'Z' && state != 'X')
            out.push_back(pid);
    });
    return out;
}

bool session_alive(pid_t sid) {
    return !session_members(sid).empty();
}

void kill_session_tree(pid_t root) {
    if (root <= 1)
        return;
    kill(-root, SIGSTOP);
    std::set<pid_t> stopped;
    // Bounded: a fork bomb outrunning the sweep still gets every process found so far killed.
    for (int round = 0; round < 50; ++round) {
        bool fresh = false;
        for (pid_t pid : session_tree(root)) {
            if (pid > 1 && stopped.insert(pid).second) {
                kill(pid, SIGSTOP);
                fresh = true;
            }
        }
        if (!fresh)
            break;
    }
    kill(-root, SIGKILL);
    for (pid_t pid : stopped)
        kill(pid, SIGKILL);
}

void signal_session(pid_t sid, int sig) {
    if (sid <= 1)
        return;  // never kill(-1) or kill(-0)
    kill(-sid, sig);
    for (pid_t pid : session_members(sid))
        kill(pid, sig);
}

}  // namespace af::proc
