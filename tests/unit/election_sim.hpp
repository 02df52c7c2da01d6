// The election simulation shared by the election_*_test.cpp files: Election instances (the pure
// core, af::core::Election) on a fake clock, against an in-memory model of the lease row that
// answers exactly as the SQL in src/db/lease_sql.cpp does (compare-and-set judged by the database
// clock, which here is the same fake time), and a model of the managed processes: a process is
// alive from the start_process action until it dies, and it dies at the moment the test carries
// out a kill_process (or a simulated guard fires at the armed deadline, or it exits on its own
// after a stop_process, or it crashes). The core hears of a death through ev::process_exited.
//
// Invariants checked on every run:
//  - next_wakeup > now after every step (no busy loop, never a wake-up in the past);
//  - a start_process is only emitted while the database says the node holds an unexpired lease
//    of that term, and every live process belongs to the node the database says holds the lease,
//    in that term, unexpired (so no two nodes ever have live processes at the same time);
//  - the intervals in which different nodes had live processes never overlap, and their terms
//    grow in time order.
#pragma once

#include "af/core/election.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <random>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace election_sim {

using namespace af;
using namespace af::core;
using namespace std::chrono_literals;

constexpr long long kNever = std::numeric_limits<long long>::max();

inline TimePoint at(long long ms) {
    return TimePoint{} + std::chrono::milliseconds(ms);
}

inline long long ms_of(TimePoint t) {
    return t == TimePoint::max() ? kNever : to_ms(t);
}

/// Readable form of an action (actions this file does not know are named by their index, so the
/// file keeps compiling while the core gains new kinds of action).
std::string describe(const Action& a);

/// The lease row, answering as the statements in src/db/lease_sql.cpp do.
///
/// A database failover (fail_over) swaps the server the statements run on: the row becomes the
/// replica's copy, which may lack the last renewals, judged by the new server's clock, which may
/// run ahead. Expiry is judged only on the server history that stamped the row (issue 21);
/// `one_history` false answers as the statements did before, to show the tests below bite.
struct LeaseRow {
    long long ttl{3000};
    std::optional<std::string> holder;
    std::int64_t term{0};  // the row does not exist yet: the first win is term 1
    long long expires_at{0};
    int history{0};      // the server history statements run on now
    int stamp{0};        // the history that judged expires_at last
    long long ahead{0};  // the current server's clock minus the true time
    bool one_history{true};

    bool other_history() const { return one_history && stamp != history; }

    ev::acquire_result acquire(const std::string& node, long long now, long long sent_at);
    bool renew(const std::string& node, std::int64_t t, long long now);
    bool release(const std::string& node, std::int64_t t, long long now);
    bool valid_for(const std::string& node, std::int64_t t, long long now) const;
    /// The primary is lost and a replica promoted, holding `copy` of the row (what it had
    /// replayed), with its clock `clock_ahead` ms ahead of the true time.
    void fail_over(const LeaseRow& copy, long long clock_ahead);
};

/// How the database answers one node.
enum class Db { answer, drop, fail };

void PrintTo(Db d, std::ostream* os);

struct SimProc {
    bool alive{false};
    long long started{0};
    std::int64_t term{0};
    int gen{0};
    bool frozen{false};        ///< SIGSTOPped: a SIGTERM waits until SIGCONT
    bool term_pending{false};  ///< a SIGTERM arrived while frozen
};

struct Interval {
    int node;
    std::string name;
    std::int64_t term;
    long long start;
    long long end;
};

struct TimedAction {
    long long t;
    Action a;
};

struct StepLog {
    long long t;
    Event e;
    std::vector<Action> actions;
};

struct SimNode {
    std::string id;
    std::unique_ptr<Election> core;
    int incarnation{0};
    long long wakeup{0};
    bool paused{false};
    bool down{false};
    Db db{Db::answer};
    long long reply_delay{0};  ///< extra delay of every database reply to this node
    std::deque<Event> inbox;
    std::map<std::string, SimProc> procs;
    /// How long a process takes to exit after SIGTERM; missing = at once, -1 = ignores it.
    std::map<std::string, long long> sigterm_delay;
    /// Crash this long after every start (scripted crash loops).
    std::map<std::string, long long> crash_after;
    std::optional<std::pair<std::int64_t, long long>> guard;  // term, deadline
    std::vector<TimedAction> actions;
    std::vector<StepLog> steps;
};

/// Random faults for the long simulation.
struct Faults {
    bool on{false};
    long long max_delay{0};  // uniform per message leg
    double p_slow{0};        // a leg takes slow_delay more
    long long slow_delay{0};
    double p_drop_request{0};
    double p_drop_reply{0};
    double p_fail_before{0};  // db_failure without running the statement
    double p_fail_after{0};   // the statement ran, the client still saw an error
    double p_crash{0};        // a started process crashes within crash_within
    long long crash_within{0};
    double p_pause{0};  // per chaos tick (every 100 ms), per node
    long long pause_max{0};
    double p_kill_daemon{0};
    double p_graceful_restart{0};
    long long sigchld_max{0};
};

class Sim {
  public:
    Sim(ElectionConfig cfg, int n, std::uint32_t seed = 1);

    const ElectionConfig& cfg() const { return cfg_; }
    Election& core(int i) { return *nodes[static_cast<std::size_t>(i)].core; }
    SimNode& node(int i) { return nodes[static_cast<std::size_t>(i)]; }

    /// Schedules a world event (a message arriving, a process exiting, a fault).
    void later(long long t, std::function<void()> f) { world_.emplace(t, std::move(f)); }

    /// Puts an event in a node's inbox; it is stepped at the current time by run_until.
    void deliver(int i, Event e) { node(i).inbox.push_back(std::move(e)); }

    /// Steps a node at the current time, carries out its actions, checks the step invariants.
    Ready step(int i, const Event& e);

    /// The process dies now (killed, crashed or exited); the node hears of it later.
    void die(int i, const std::string& name, const std::string& how);

    void run_until(long long until);

    bool any_alive(const SimNode& n) const;

    /// Intervals of every node, the live ones ending now.
    std::vector<Interval> all_intervals() const;

    /// No two nodes ever had live processes at the same time; terms grow in time order.
    void expect_no_overlap() const;

    int failures() const { return failures_; }

    std::vector<SimNode> nodes;
    LeaseRow lease;
    long long now{0};
    std::vector<Interval> intervals;
    Faults faults;
    bool check_db{true};  ///< off only where a test forces the row into a state the model forbids
    bool hints{false};    ///< a committed release sends lease_hint to the others (NOTIFY)
    bool restart_after_exit{false};
    int guard_kills{0};
    std::int64_t last_start_term{0};

  private:
    void fail(const std::string& what);

    long long uniform(long long lo, long long hi);
    bool chance(double p) { return p > 0 && std::bernoulli_distribution(p)(rng_); }

    long long leg_delay();

    void reply(int i, int inc, long long t, Event e);

    enum class Op { acquire, renew, release };

    void send_db(int i, Op op, std::int64_t term);

    void handle(int i, const Action& a);

    void start(int i, const act::start_process& x);

    void sigterm(int i, const std::string& name);

  public:
    /// kill -9 of the daemon: its processes die with it (parent-death signal).
    void kill_daemon(int i);

    /// A new daemon process for the node (after an exit or a kill -9).
    void restart(int i);

    /// Random faults every 100 ms while faults.on.
    void chaos(long long until);

  private:
    /// The strong form of the safety invariant, checked whenever time has been processed.
    void check_state();

    ElectionConfig cfg_;
    std::mt19937 rng_;
    std::multimap<long long, std::function<void()>> world_;
    int failures_{0};
    int same_instant_{0};
};

// ---- helpers --------------------------------------------------------------------------------

/// The timings these tests were written for (ttl 3000, renew 500, margin 300, poll 500), stated
/// here rather than taken from the defaults, which follow the shipped TTL.
ElectionConfig config_with(std::vector<ProcessPolicy> procs);

/// Those timings (kill_grace 100) and one process with a short stop timeout.
ElectionConfig one_proc();

template <class A>
std::vector<std::pair<long long, A>> actions_of(const SimNode& n, long long from = 0,
                                                long long to = kNever) {
    std::vector<std::pair<long long, A>> v;
    for (const TimedAction& ta : n.actions)
        if (ta.t >= from && ta.t <= to)
            if (const A* a = std::get_if<A>(&ta.a))
                v.emplace_back(ta.t, *a);
    return v;
}

template <class A>
std::size_t count_of(const SimNode& n, long long from = 0, long long to = kNever) {
    return actions_of<A>(n, from, to).size();
}

std::vector<std::pair<long long, std::string>> records(const SimNode& n);
bool has_record(const SimNode& n, const std::string& kind);
std::string history(const SimNode& n);

}  // namespace election_sim
