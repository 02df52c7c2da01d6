#include "af/proc/session.hpp"

#include <dirent.h>
#include <signal.h>

#include <cerrno>
#include <cstdio>
#include <fstream>
#include <string>

namespace af::proc {

namespace {

/// Calls f(pid, pgrp, state) for every process whose session is `sid`.
template <class F>
void for_each_in_session(pid_t sid, F&& f) {
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
        if (session == sid)
            f(static_cast<pid_t>(std::stol(e->d_name)), state);
    }
    closedir(d);
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

void signal_session(pid_t sid, int sig) {
    if (sid <= 1)
        return;  // never kill(-1) or kill(-0)
    kill(-sid, sig);
    for (pid_t pid : session_members(sid))
        kill(pid, sig);
}

}  // namespace af::proc
