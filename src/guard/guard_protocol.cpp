#include "af/guard/guard_protocol.hpp"

#include <limits>
#include <sstream>

namespace af::guard {

bool GuardState::apply(const std::string& line) {
    std::istringstream in(line);
    std::string cmd;
    in >> cmd;
    if (cmd == "conf") {
        std::string rest;
        std::getline(in, rest);
        conf_json = rest;
        return true;
    }
    if (cmd == "arm") {
        long long t = 0, ns = 0;
        if (!(in >> t >> ns) || t <= 0)
            return false;
        if (!term || *term != t)
            fired = false;  // a new term re-arms after a fire
        term = t;
        deadline = TimePoint{std::chrono::nanoseconds{ns}};
        if (deadline > boot_clock::now())
            fired = false;
        return true;
    }
    if (cmd == "groups") {
        std::set<pid_t> g;
        long long p;
        while (in >> p) {
            // Checked before narrowing to pid_t: never kill(-1), kill(-0) or a wrapped value.
            if (p <= 1 || p > std::numeric_limits<pid_t>::max())
                return false;
            g.insert(static_cast<pid_t>(p));
        }
        if (!in.eof())
            return false;
        groups = std::move(g);
        return true;
    }
    if (cmd == "disarm") {
        term.reset();
        deadline = TimePoint::max();
        fired = false;
        return true;
    }
    return false;
}

std::string arm_line(std::int64_t term, TimePoint deadline) {
    return "arm " + std::to_string(term) + " " +
           std::to_string(deadline.time_since_epoch().count()) + "\n";
}

std::string groups_line(const std::set<pid_t>& groups) {
    std::string s = "groups";
    for (pid_t g : groups)
        s += " " + std::to_string(g);
    return s + "\n";
}

}  // namespace af::guard
