// The election simulation's lease row (the database's answers) and the helpers that read a
// node's actions (election_sim.hpp says what it models).
#include "election_sim.hpp"

#include <algorithm>
#include <type_traits>

namespace election_sim {

std::string describe(const Action& a) {
    return std::visit(
        [&](const auto& x) -> std::string {
            using T = std::decay_t<decltype(x)>;
            if constexpr (std::is_same_v<T, act::try_acquire>)
                return "try_acquire";
            else if constexpr (std::is_same_v<T, act::renew>)
                return "renew(" + std::to_string(x.term) + ")";
            else if constexpr (std::is_same_v<T, act::release>)
                return "release(" + std::to_string(x.term) + ")";
            else if constexpr (std::is_same_v<T, act::start_process>)
                return "start(" + x.name + "," + std::to_string(x.term) + ")";
            else if constexpr (std::is_same_v<T, act::stop_process>)
                return "stop(" + x.name + ")";
            else if constexpr (std::is_same_v<T, act::kill_process>)
                return "kill(" + x.name + ")";
            else if constexpr (std::is_same_v<T, act::arm_guard>)
                return "arm(" + std::to_string(x.term) + "," + std::to_string(ms_of(x.deadline)) +
                       ")";
            else if constexpr (std::is_same_v<T, act::disarm_guard>)
                return "disarm";
            else if constexpr (std::is_same_v<T, act::record>)
                return "record(" + x.kind + ")";
            else if constexpr (std::is_same_v<T, act::exit>)
                return "exit(" + std::to_string(x.code) + ")";
            else
                return "action#" + std::to_string(a.index());
        },
        a);
}

ev::acquire_result LeaseRow::acquire(const std::string& node, long long now, long long sent_at) {
    now += ahead;
    ev::acquire_result r;
    r.sent_at = at(sent_at);
    if (!holder || (expires_at <= now && !other_history())) {
        holder = node;
        term += 1;
        expires_at = now + ttl;
        stamp = history;
        r.won = true;
        r.term = term;
        r.holder = node;
    } else if (other_history()) {
        // re-stamped: a full TTL on this server, same holder and term; the claimant loses
        stamp = history;
        expires_at = now + ttl;
        r.won = false;
        r.term = term;
        r.holder = holder;
        r.remaining = Duration{ttl};
    } else {
        r.won = false;
        r.term = term;
        r.holder = holder;
        r.remaining = Duration{std::max(0LL, expires_at - now)};
    }
    return r;
}

bool LeaseRow::renew(const std::string& node, std::int64_t t, long long now) {
    now += ahead;
    if (holder != node || term != t || (expires_at <= now && !other_history()))
        return false;
    expires_at = now + ttl;
    stamp = history;
    return true;
}

bool LeaseRow::release(const std::string& node, std::int64_t t, long long now) {
    if (holder != node || term != t)
        return false;
    holder.reset();
    expires_at = now + ahead;
    stamp = history;
    return true;
}

bool LeaseRow::valid_for(const std::string& node, std::int64_t t, long long now) const {
    return holder == node && term == t && expires_at > now + ahead;
}

void LeaseRow::fail_over(const LeaseRow& copy, long long clock_ahead) {
    holder = copy.holder;
    term = copy.term;
    expires_at = copy.expires_at;
    stamp = copy.stamp;
    history += 1;
    ahead = clock_ahead;
}

void PrintTo(Db d, std::ostream* os) {
    *os << (d == Db::answer ? "answer" : d == Db::drop ? "drop" : "fail");
}

ElectionConfig config_with(std::vector<ProcessPolicy> procs) {
    ElectionConfig c;
    c.ttl = 3000ms;
    c.renew_interval = 500ms;
    c.fence_margin = 300ms;
    c.poll_interval = 500ms;
    c.processes = std::move(procs);
    return c;
}

/// Those timings (kill_grace 100) and one process with a short stop timeout.
ElectionConfig one_proc() {
    return config_with({{"scheduler", 500ms}});
}

std::vector<std::pair<long long, std::string>> records(const SimNode& n) {
    std::vector<std::pair<long long, std::string>> v;
    for (const auto& [t, r] : actions_of<act::record>(n))
        v.emplace_back(t, r.kind);
    return v;
}

bool has_record(const SimNode& n, const std::string& kind) {
    for (const auto& [t, k] : records(n))
        if (k == kind)
            return true;
    return false;
}

std::string history(const SimNode& n) {
    std::string s;
    for (const TimedAction& ta : n.actions)
        s += "  " + std::to_string(ta.t) + " " + describe(ta.a) + "\n";
    return s;
}
}  // namespace election_sim
