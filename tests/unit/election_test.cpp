// Unit tests for the pure election state machine (af::core::Election), driven with a fake clock.
//
// The tests run one or more Election instances against an in-memory model of the lease row that
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
#include "af/core/election.hpp"
#include "ready_actions.hpp"

#include <gtest/gtest-spi.h>
#include <gtest/gtest.h>

#include <algorithm>
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
#include <set>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

namespace {

using namespace af;
using namespace af::core;
using namespace std::chrono_literals;

constexpr long long kNever = std::numeric_limits<long long>::max();

TimePoint at(long long ms) {
    return TimePoint{} + std::chrono::milliseconds(ms);
}

long long ms_of(TimePoint t) {
    return t == TimePoint::max() ? kNever : to_ms(t);
}

/// Readable form of an action (actions this file does not know are named by their index, so the
/// file keeps compiling while the core gains new kinds of action).
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

    ev::acquire_result acquire(const std::string& node, long long now, long long sent_at) {
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
    bool renew(const std::string& node, std::int64_t t, long long now) {
        now += ahead;
        if (holder != node || term != t || (expires_at <= now && !other_history()))
            return false;
        expires_at = now + ttl;
        stamp = history;
        return true;
    }
    bool release(const std::string& node, std::int64_t t, long long now) {
        if (holder != node || term != t)
            return false;
        holder.reset();
        expires_at = now + ahead;
        stamp = history;
        return true;
    }
    bool valid_for(const std::string& node, std::int64_t t, long long now) const {
        return holder == node && term == t && expires_at > now + ahead;
    }
    /// The primary is lost and a replica promoted, holding `copy` of the row (what it had
    /// replayed), with its clock `clock_ahead` ms ahead of the true time.
    void fail_over(const LeaseRow& copy, long long clock_ahead) {
        holder = copy.holder;
        term = copy.term;
        expires_at = copy.expires_at;
        stamp = copy.stamp;
        history += 1;
        ahead = clock_ahead;
    }
};

/// How the database answers one node.
enum class Db { answer, drop, fail };

void PrintTo(Db d, std::ostream* os) {
    *os << (d == Db::answer ? "answer" : d == Db::drop ? "drop" : "fail");
}

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
    Sim(ElectionConfig cfg, int n, std::uint32_t seed = 1) : cfg_(std::move(cfg)), rng_(seed) {
        lease.ttl = cfg_.ttl.count();
        for (int i = 0; i < n; ++i) {
            SimNode node;
            node.id = "node-" + std::to_string(i);
            node.core = std::make_unique<Election>(cfg_, node.id);
            nodes.push_back(std::move(node));
        }
    }

    const ElectionConfig& cfg() const { return cfg_; }
    Election& core(int i) { return *nodes[static_cast<std::size_t>(i)].core; }
    SimNode& node(int i) { return nodes[static_cast<std::size_t>(i)]; }

    /// Schedules a world event (a message arriving, a process exiting, a fault).
    void later(long long t, std::function<void()> f) { world_.emplace(t, std::move(f)); }

    /// Puts an event in a node's inbox; it is stepped at the current time by run_until.
    void deliver(int i, Event e) { node(i).inbox.push_back(std::move(e)); }

    /// Steps a node at the current time, carries out its actions, checks the step invariants.
    Ready step(int i, const Event& e) {
        SimNode& n = node(i);
        EXPECT_FALSE(n.down) << n.id << " stepped while down";
        Ready r = n.core->step(e, at(now));
        if (r.next_wakeup <= at(now)) {
            fail("next_wakeup " + std::to_string(ms_of(r.next_wakeup)) + " is not after now " +
                 std::to_string(now) + " on " + n.id);
        }
        n.wakeup = ms_of(r.next_wakeup);
        n.steps.push_back({now, e, r.actions});
        for (const Action& a : r.actions) {
            n.actions.push_back({now, a});
            handle(i, a);
        }
        return r;
    }

    /// The process dies now (killed, crashed or exited); the node hears of it later.
    void die(int i, const std::string& name, const std::string& how) {
        SimNode& n = node(i);
        SimProc& p = n.procs[name];
        if (!p.alive)
            return;
        p.alive = false;
        p.frozen = false;
        p.term_pending = false;
        intervals.push_back({i, name, p.term, p.started, now});
        const long long d = faults.on ? uniform(0, faults.sigchld_max) : 0;
        const int inc = n.incarnation;
        later(now + d, [this, i, inc, name, how] {
            if (node(i).incarnation == inc && !node(i).down)
                deliver(i, ev::process_exited{name, how});
        });
    }

    void run_until(long long until) {
        while (failures_ == 0) {
            long long t = world_.empty() ? kNever : world_.begin()->first;
            for (SimNode& n : nodes) {
                if (!n.down && !n.paused) {
                    if (!n.inbox.empty())
                        t = std::min(t, now);
                    t = std::min(t, std::max(now, n.wakeup));
                }
                if (n.guard && any_alive(n))
                    t = std::min(t, std::max(now, n.guard->second));
            }
            if (t > until)
                break;
            // Work at one instant must come to an end: a livelock (say kill, exit, start, kill..
            // without time passing) fails the test instead of hanging it.
            same_instant_ = t <= now ? same_instant_ + 1 : 0;
            if (same_instant_ > 10000) {
                fail("livelock: no progress of time");
                break;
            }
            now = std::max(now, t);
            while (!world_.empty() && world_.begin()->first <= now) {
                auto f = std::move(world_.begin()->second);
                world_.erase(world_.begin());
                f();
            }
            for (int i = 0; i < static_cast<int>(nodes.size()); ++i) {
                SimNode& n = node(i);
                if (n.guard && n.guard->second <= now) {
                    for (auto& [name, p] : n.procs) {
                        if (p.alive) {
                            ++guard_kills;
                            die(i, name, "killed by signal 9 (guard)");
                        }
                    }
                }
            }
            for (int i = 0; i < static_cast<int>(nodes.size()); ++i) {
                SimNode& n = node(i);
                while (!n.down && !n.paused && !n.inbox.empty()) {
                    Event e = std::move(n.inbox.front());
                    n.inbox.pop_front();
                    step(i, e);
                }
                if (!n.down && !n.paused && n.wakeup <= now)
                    step(i, ev::tick{});
            }
            check_state();
        }
        now = std::max(now, until);
    }

    bool any_alive(const SimNode& n) const {
        return std::any_of(n.procs.begin(), n.procs.end(),
                           [](const auto& kv) { return kv.second.alive; });
    }

    /// Intervals of every node, the live ones ending now.
    std::vector<Interval> all_intervals() const {
        std::vector<Interval> v = intervals;
        for (int i = 0; i < static_cast<int>(nodes.size()); ++i)
            for (const auto& [name, p] : nodes[static_cast<std::size_t>(i)].procs)
                if (p.alive)
                    v.push_back({i, name, p.term, p.started, now});
        return v;
    }

    /// No two nodes ever had live processes at the same time; terms grow in time order.
    void expect_no_overlap() const {
        std::vector<Interval> v = all_intervals();
        std::sort(v.begin(), v.end(),
                  [](const Interval& a, const Interval& b) { return a.start < b.start; });
        for (std::size_t a = 0; a < v.size(); ++a) {
            for (std::size_t b = a + 1; b < v.size(); ++b) {
                if (v[a].node == v[b].node)
                    continue;
                EXPECT_FALSE(v[a].start < v[b].end && v[b].start < v[a].end)
                    << "overlap: node-" << v[a].node << " " << v[a].name << " term " << v[a].term
                    << " [" << v[a].start << "," << v[a].end << ") and node-" << v[b].node << " "
                    << v[b].name << " term " << v[b].term << " [" << v[b].start << "," << v[b].end
                    << ")";
            }
            if (a > 0) {
                EXPECT_GE(v[a].term, v[a - 1].term) << "terms went back at " << v[a].start;
            }
        }
    }

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
    void fail(const std::string& what) {
        ++failures_;
        ADD_FAILURE() << "t=" << now << ": " << what;
    }

    long long uniform(long long lo, long long hi) {
        return std::uniform_int_distribution<long long>(lo, hi)(rng_);
    }
    bool chance(double p) { return p > 0 && std::bernoulli_distribution(p)(rng_); }

    long long leg_delay() {
        if (!faults.on)
            return 0;
        long long d = uniform(0, faults.max_delay);
        if (chance(faults.p_slow))
            d += uniform(0, faults.slow_delay);
        return d;
    }

    void reply(int i, int inc, long long t, Event e) {
        later(t, [this, i, inc, e] {
            if (node(i).incarnation == inc && !node(i).down)
                deliver(i, e);
        });
    }

    enum class Op { acquire, renew, release };

    void send_db(int i, Op op, std::int64_t term) {
        SimNode& n = node(i);
        const long long sent = now;
        const int inc = n.incarnation;
        const std::string id = n.id;
        const ev::db_op dop = op == Op::acquire ? ev::db_op::acquire
                              : op == Op::renew ? ev::db_op::renew
                                                : ev::db_op::release;
        if (n.db == Db::drop || (faults.on && chance(faults.p_drop_request)))
            return;
        if (n.db == Db::fail || (faults.on && chance(faults.p_fail_before))) {
            reply(i, inc, now + leg_delay(), ev::db_failure{dop, term, "connection refused"});
            return;
        }
        later(now + leg_delay(), [this, i, inc, op, dop, term, sent, id] {
            Event result;
            switch (op) {
                case Op::acquire:
                    result = lease.acquire(id, now, sent);
                    break;
                case Op::renew:
                    result = ev::renew_result{lease.renew(id, term, now), term, at(sent)};
                    break;
                case Op::release: {
                    const bool released = lease.release(id, term, now);
                    result = ev::release_result{term, released};
                    if (released && hints) {
                        for (int j = 0; j < static_cast<int>(nodes.size()); ++j)
                            if (j != i)
                                reply(j, node(j).incarnation, now + leg_delay(), ev::lease_hint{});
                    }
                    break;
                }
            }
            if (faults.on && chance(faults.p_drop_reply))
                return;
            if (faults.on && chance(faults.p_fail_after))
                result = ev::db_failure{dop, term, "server closed the connection"};
            reply(i, inc, now + leg_delay() + node(i).reply_delay, result);
        });
    }

    void handle(int i, const Action& a) {
        SimNode& n = node(i);
        if (std::holds_alternative<act::try_acquire>(a)) {
            send_db(i, Op::acquire, 0);
        } else if (const auto* rn = std::get_if<act::renew>(&a)) {
            EXPECT_EQ(rn->term, n.core->term()) << n.id << " renews a term it does not hold";
            send_db(i, Op::renew, rn->term);
        } else if (const auto* rel = std::get_if<act::release>(&a)) {
            send_db(i, Op::release, rel->term);
        } else if (const auto* st = std::get_if<act::start_process>(&a)) {
            start(i, *st);
        } else if (const auto* sp = std::get_if<act::stop_process>(&a)) {
            sigterm(i, sp->name);
        } else if (const auto* fz = std::get_if<act::freeze_process>(&a)) {
            SimProc& p = n.procs[fz->name];
            if (!p.alive)
                fail(n.id + " froze " + fz->name + ", which is not running");
            p.frozen = true;
        } else if (const auto* th = std::get_if<act::thaw_process>(&a)) {
            SimProc& p = n.procs[th->name];
            p.frozen = false;
            if (p.term_pending) {
                p.term_pending = false;
                sigterm(i, th->name);
            }
        } else if (const auto* k = std::get_if<act::kill_process>(&a)) {
            die(i, k->name, "killed by signal 9");
        } else if (const auto* arm = std::get_if<act::arm_guard>(&a)) {
            EXPECT_EQ(arm->term, n.core->term());
            n.guard = std::make_pair(arm->term, ms_of(arm->deadline));
        } else if (std::holds_alternative<act::disarm_guard>(a)) {
            if (any_alive(n))
                fail(n.id + " disarmed its guard with processes alive");
            n.guard.reset();
        } else if (std::holds_alternative<act::exit>(a)) {
            if (any_alive(n))
                fail(n.id + " exited with processes alive");
            n.down = true;
            n.guard.reset();
            if (restart_after_exit)
                later(now + uniform(0, 2000), [this, i] { restart(i); });
        }
        // records (and kinds of action these tests do not drive) have no effect on the model
    }

    void start(int i, const act::start_process& x) {
        SimNode& n = node(i);
        SimProc& p = n.procs[x.name];
        if (p.alive)
            fail(n.id + " started " + x.name + " while it is still alive");
        if (x.term != n.core->term())
            fail(n.id + " started " + x.name + " with term " + std::to_string(x.term) +
                 " but holds " + std::to_string(n.core->term()));
        if (check_db && !lease.valid_for(n.id, x.term, now))
            fail(n.id + " started " + x.name + " in term " + std::to_string(x.term) +
                 " without a valid lease (db: holder " + lease.holder.value_or("none") + " term " +
                 std::to_string(lease.term) + " expires " + std::to_string(lease.expires_at) + ")");
        for (int j = 0; j < static_cast<int>(nodes.size()); ++j)
            if (j != i && any_alive(node(j)))
                fail(n.id + " started " + x.name + " while " + node(j).id + " has processes alive");
        if (x.term < last_start_term)
            fail("start term went back from " + std::to_string(last_start_term) + " to " +
                 std::to_string(x.term));
        last_start_term = std::max(last_start_term, x.term);
        p.alive = true;
        p.started = now;
        p.term = x.term;
        const int gen = ++p.gen;
        const std::string name = x.name;
        auto crash_at = [this, i, name, gen](long long t) {
            later(t, [this, i, name, gen] {
                SimProc& q = node(i).procs[name];
                if (q.alive && q.gen == gen)
                    die(i, name, "exited with status 1");
            });
        };
        if (auto it = n.crash_after.find(name); it != n.crash_after.end())
            crash_at(now + it->second);
        else if (faults.on && chance(faults.p_crash))
            crash_at(now + uniform(1, faults.crash_within));
    }

    void sigterm(int i, const std::string& name) {
        SimNode& n = node(i);
        SimProc& p = n.procs[name];
        if (!p.alive)
            return;
        if (p.frozen) {
            p.term_pending = true;
            return;
        }
        long long d = 0;
        if (auto it = n.sigterm_delay.find(name); it != n.sigterm_delay.end())
            d = it->second;
        else if (faults.on)
            d = chance(0.1) ? -1 : chance(0.2) ? uniform(800, 3000) : uniform(0, 800);
        if (d < 0)
            return;  // ignores SIGTERM
        if (d == 0) {
            die(i, name, "exited with status 0");
            return;
        }
        const int gen = p.gen;
        later(now + d, [this, i, name, gen] {
            SimProc& q = node(i).procs[name];
            if (q.alive && q.gen == gen)
                die(i, name, "exited with status 0");
        });
    }

  public:
    /// kill -9 of the daemon: its processes die with it (parent-death signal).
    void kill_daemon(int i) {
        SimNode& n = node(i);
        if (n.down)
            return;
        for (auto& [name, p] : n.procs)
            if (p.alive)
                die(i, name, "killed by signal 9 (parent died)");
        n.down = true;
        n.paused = false;
        n.inbox.clear();
        n.guard.reset();
        ++n.incarnation;
    }

    /// A new daemon process for the node (after an exit or a kill -9).
    void restart(int i) {
        SimNode& n = node(i);
        if (!n.down)
            return;
        ++n.incarnation;
        n.core = std::make_unique<Election>(cfg_, n.id);
        n.down = false;
        n.paused = false;
        n.inbox.clear();
        n.wakeup = now;
    }

    /// Random faults every 100 ms while faults.on.
    void chaos(long long until) {
        later(now + 100, [this, until] {
            if (!faults.on || now >= until)
                return;
            for (int i = 0; i < static_cast<int>(nodes.size()); ++i) {
                SimNode& n = node(i);
                if (n.down)
                    continue;
                if (!n.paused && chance(faults.p_pause)) {
                    n.paused = true;
                    const int inc = n.incarnation;
                    later(now + uniform(1, faults.pause_max), [this, i, inc] {
                        if (node(i).incarnation == inc)
                            node(i).paused = false;
                    });
                } else if (chance(faults.p_kill_daemon)) {
                    kill_daemon(i);
                    later(now + uniform(0, 3000), [this, i] { restart(i); });
                } else if (chance(faults.p_graceful_restart)) {
                    deliver(i, ev::stop_requested{"SIGTERM (chaos)"});
                }
            }
            chaos(until);
        });
    }

  private:
    /// The strong form of the safety invariant, checked whenever time has been processed.
    void check_state() {
        if (!check_db)
            return;
        int with_live = 0;
        for (const SimNode& n : nodes) {
            if (!any_alive(n))
                continue;
            ++with_live;
            for (const auto& [name, p] : n.procs)
                if (p.alive && !lease.valid_for(n.id, p.term, now))
                    fail(n.id + " has " + name + " of term " + std::to_string(p.term) +
                         " alive but the database says holder " + lease.holder.value_or("none") +
                         " term " + std::to_string(lease.term) + " expires " +
                         std::to_string(lease.expires_at));
        }
        if (with_live > 1)
            fail(std::to_string(with_live) + " nodes have processes alive");
    }

    ElectionConfig cfg_;
    std::mt19937 rng_;
    std::multimap<long long, std::function<void()>> world_;
    int failures_{0};
    int same_instant_{0};
};

// ---- helpers --------------------------------------------------------------------------------

/// The timings these tests were written for (ttl 3000, renew 500, margin 300, poll 500), stated
/// here rather than taken from the defaults, which follow the shipped TTL.
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

// ---- simultaneous start -----------------------------------------------------------------------

class SimultaneousStart : public ::testing::TestWithParam<std::tuple<int, std::uint32_t>> {};

TEST_P(SimultaneousStart, ExactlyOneActiveInTermOne) {
    const auto [n, seed] = GetParam();
    Sim sim(one_proc(), n, seed);
    if (seed != 0) {  // seed 0: zero latency; others: a little network jitter
        sim.faults.on = true;
        sim.faults.max_delay = 40;
    }
    sim.run_until(20000);
    ASSERT_EQ(sim.failures(), 0);
    int active = -1;
    for (int i = 0; i < n; ++i) {
        const SimNode& node = sim.node(i);
        SCOPED_TRACE(node.id + "\n" + history(node));
        EXPECT_GE(count_of<act::try_acquire>(node), 1u);
        if (sim.core(i).role() == Role::active) {
            EXPECT_EQ(active, -1) << "two active nodes";
            active = i;
            EXPECT_EQ(sim.core(i).term(), 1);
            EXPECT_EQ(sim.core(i).process_state("scheduler"), ProcState::running);
            EXPECT_EQ(count_of<act::start_process>(node), 1u);
        } else {
            EXPECT_EQ(sim.core(i).role(), Role::standby);
            EXPECT_EQ(sim.core(i).term(), 0);
            EXPECT_FALSE(sim.core(i).any_process_alive());
            EXPECT_EQ(count_of<act::start_process>(node), 0u);
            EXPECT_EQ(count_of<act::renew>(node), 0u);
            // A standby keeps asking.
            EXPECT_GE(count_of<act::try_acquire>(node), 10u);
        }
    }
    ASSERT_NE(active, -1) << "no active node";
    EXPECT_EQ(sim.lease.term, 1);
    EXPECT_EQ(sim.lease.holder, sim.node(active).id);
    EXPECT_TRUE(sim.intervals.empty());  // nothing was ever stopped
    sim.expect_no_overlap();
}

INSTANTIATE_TEST_SUITE_P(TwoAndThreeNodes, SimultaneousStart,
                         ::testing::Combine(::testing::Values(2, 3),
                                            ::testing::Values(0u, 1u, 2u, 3u, 4u, 5u)));

// ---- the active goes silent -------------------------------------------------------------------

TEST(Election, StandbyTakesOverOnlyAfterTheDbExpiryOfAPausedActive) {
    Sim sim(one_proc(), 2);
    sim.node(1).wakeup = 1000;  // node-1 starts later, so node-0 is active
    sim.run_until(5000);
    ASSERT_EQ(sim.core(0).role(), Role::active);
    ASSERT_EQ(sim.core(1).role(), Role::standby);
    const long long db_expiry = sim.lease.expires_at;
    ASSERT_TRUE(sim.node(0).guard.has_value());
    const long long guard_deadline = sim.node(0).guard->second;
    // The local deadline lies the fence margin before the database's expiry (zero latency here).
    EXPECT_EQ(guard_deadline, db_expiry - sim.cfg().fence_margin.count());

    sim.node(0).paused = true;  // SIGSTOP: no steps, no renewals
    sim.run_until(20000);
    ASSERT_EQ(sim.failures(), 0);

    // The guard killed node-0's process at the armed deadline, before the database expiry.
    ASSERT_EQ(sim.intervals.size(), 1u);
    EXPECT_EQ(sim.intervals[0].node, 0);
    EXPECT_EQ(sim.intervals[0].end, guard_deadline);
    EXPECT_LT(sim.intervals[0].end, db_expiry);
    EXPECT_EQ(sim.guard_kills, 1);

    // node-1 won only once the database lease had expired, and then promptly.
    const auto wins = actions_of<act::start_process>(sim.node(1));
    ASSERT_EQ(wins.size(), 1u) << history(sim.node(1));
    EXPECT_GE(wins[0].first, db_expiry);
    EXPECT_LE(wins[0].first, db_expiry + 10);
    EXPECT_EQ(wins[0].second.term, 2);

    // SIGCONT: the first thing node-0 does is kill, then it steps down without disturbing node-1.
    const std::size_t k = sim.node(0).actions.size();
    sim.node(0).paused = false;
    sim.run_until(30000);
    ASSERT_EQ(sim.failures(), 0);
    const SimNode& n0 = sim.node(0);
    ASSERT_GT(n0.actions.size(), k);
    EXPECT_TRUE(std::holds_alternative<act::kill_process>(n0.actions[k].a))
        << "first action after the pause: " << describe(n0.actions[k].a);
    EXPECT_EQ(sim.core(0).role(), Role::standby);
    EXPECT_EQ(sim.core(0).term(), 0);
    EXPECT_EQ(count_of<act::start_process>(n0, 20000), 0u);
    EXPECT_EQ(sim.core(1).role(), Role::active);
    EXPECT_EQ(sim.lease.holder, sim.node(1).id);
    EXPECT_EQ(sim.lease.term, 2);
    sim.expect_no_overlap();
}

TEST(Election, ActiveCutOffFromTheDbKillsBeforeItsDbLeaseExpires) {
    Sim sim(one_proc(), 2);
    sim.node(1).wakeup = 1000;
    sim.node(0).sigterm_delay["scheduler"] = -1;  // ignores SIGTERM: only a kill ends it
    sim.run_until(5000);
    ASSERT_EQ(sim.core(0).role(), Role::active);
    const long long db_expiry = sim.lease.expires_at;
    const long long deadline = sim.node(0).guard->second;
    ASSERT_EQ(at(deadline), sim.core(0).lease_deadline());

    sim.node(0).db = Db::drop;  // its statements never reach the database
    sim.run_until(20000);
    ASSERT_EQ(sim.failures(), 0);
    const SimNode& n0 = sim.node(0);
    SCOPED_TRACE(history(n0));
    const auto kills = actions_of<act::kill_process>(n0);
    ASSERT_EQ(kills.size(), 1u);
    EXPECT_EQ(kills[0].first, deadline - sim.cfg().kill_grace.count());
    EXPECT_LT(kills[0].first, db_expiry);
    ASSERT_EQ(sim.intervals.size(), 1u);
    EXPECT_LT(sim.intervals[0].end, db_expiry);
    EXPECT_EQ(sim.guard_kills, 0);
    EXPECT_TRUE(has_record(n0, "fenced"));

    const auto wins = actions_of<act::start_process>(sim.node(1));
    ASSERT_EQ(wins.size(), 1u);
    EXPECT_GE(wins[0].first, db_expiry);
    EXPECT_EQ(wins[0].second.term, 2);
    EXPECT_EQ(sim.core(0).role(), Role::standby);
    sim.expect_no_overlap();
}

TEST(Election, LateRenewReplyExtendsFromItsSendTimeNotItsArrival) {
    Sim sim(one_proc(), 2);
    sim.node(1).wakeup = 1000;
    sim.node(0).sigterm_delay["scheduler"] = -1;
    sim.run_until(2010);
    // The next renewal runs in the database at once, but its reply takes a second to arrive;
    // then the node is cut off.
    sim.node(0).reply_delay = 1000;
    sim.run_until(2600);
    sim.node(0).db = Db::drop;
    sim.run_until(4000);
    ASSERT_EQ(sim.lease.expires_at, 2500 + 3000);
    const long long db_expiry = sim.lease.expires_at;
    // The reply arrived at 3500 and extended the deadline from the send time, 2500.
    EXPECT_EQ(sim.core(0).lease_deadline(), at(2500 + 3000 - 300));
    sim.run_until(20000);
    ASSERT_EQ(sim.failures(), 0);
    ASSERT_EQ(sim.intervals.size(), 1u);
    EXPECT_LT(sim.intervals[0].end, db_expiry);
    const auto wins = actions_of<act::start_process>(sim.node(1));
    ASSERT_EQ(wins.size(), 1u);
    EXPECT_GE(wins[0].first, db_expiry);
    sim.expect_no_overlap();
}

// ---- lease lost ---------------------------------------------------------------------------------

TEST(Election, LeaseLostKillsAtOnceWithoutReleaseThenStandby) {
    Sim sim(config_with({{"scheduler", 5000ms}, {"triggerer", 5000ms}}), 1);
    sim.run_until(2010);
    ASSERT_EQ(sim.core(0).role(), Role::active);
    ASSERT_EQ(sim.core(0).term(), 1);
    // Someone else holds the row now (as if our lease had expired unnoticed and been taken):
    // the next renewal's compare-and-set fails. The model cannot reach this state by itself.
    sim.check_db = false;
    sim.lease.holder = "intruder";
    sim.lease.term = 2;
    sim.lease.expires_at = sim.now + 3000;
    sim.run_until(20000);
    ASSERT_EQ(sim.failures(), 0);
    const SimNode& n0 = sim.node(0);
    SCOPED_TRACE(history(n0));

    // The step that heard the refusal kills both processes before doing anything else (only
    // the lease_lost record may come first).
    const auto it = std::find_if(n0.steps.begin(), n0.steps.end(), [](const StepLog& s) {
        const auto* r = std::get_if<ev::renew_result>(&s.e);
        return r && !r->ok;
    });
    ASSERT_NE(it, n0.steps.end());
    EXPECT_EQ(it->t, 2500);
    std::vector<std::string> effects;  // actions of that step other than records
    for (const Action& a : it->actions)
        if (!std::holds_alternative<act::record>(a))
            effects.push_back(describe(a));
    ASSERT_GE(effects.size(), 2u);
    EXPECT_EQ(effects[0], "kill(scheduler)");
    EXPECT_EQ(effects[1], "kill(triggerer)");
    EXPECT_EQ(count_of<act::kill_process>(n0), 2u);
    EXPECT_EQ(count_of<act::stop_process>(n0), 0u);
    EXPECT_EQ(count_of<act::release>(n0), 0u) << "released a lease that is not ours";
    EXPECT_TRUE(has_record(n0, "lease_lost"));
    for (const Interval& iv : sim.intervals)
        EXPECT_EQ(iv.end, 2500);
    EXPECT_EQ(count_of<act::disarm_guard>(n0), 1u);
    EXPECT_EQ(count_of<act::renew>(n0, 2501, 5000), 0u);

    // Standby afterwards, polling; it wins term 3 once the intruder's lease has expired.
    EXPECT_GE(count_of<act::try_acquire>(n0, 2500, 5000), 1u);
    EXPECT_EQ(count_of<act::start_process>(n0, 2500, 5009), 0u);
    const auto starts = actions_of<act::start_process>(n0, 2501);
    ASSERT_EQ(starts.size(), 2u);
    EXPECT_GE(starts[0].first, 5010);
    EXPECT_EQ(starts[0].second.term, 3);
    EXPECT_EQ(sim.core(0).role(), Role::active);
}

// ---- renewals fail ------------------------------------------------------------------------------

class RenewFailure : public ::testing::TestWithParam<Db> {};

TEST_P(RenewFailure, FreezeAtFenceLeadKillAtKillGraceNothingAfterTheDeadline) {
    Sim sim(config_with({{"scheduler", 500ms}, {"triggerer", 500ms}}), 1);
    // Half of what the margin leaves, whatever the stop timeouts: nothing is stopped gracefully.
    ASSERT_EQ(sim.cfg().fence_lead(), 1350ms);
    sim.node(0).sigterm_delay["scheduler"] = -1;  // would ignore SIGTERM
    sim.node(0).sigterm_delay["triggerer"] = 50;  // would stop gracefully
    sim.run_until(5010);
    ASSERT_EQ(sim.core(0).role(), Role::active);
    const long long db_expiry = sim.lease.expires_at;
    const long long deadline = ms_of(sim.core(0).lease_deadline());
    ASSERT_EQ(deadline, 5000 + 3000 - 300);  // last good renewal sent at 5000
    sim.node(0).db = GetParam();
    sim.run_until(12000);
    ASSERT_EQ(sim.failures(), 0);
    const SimNode& n0 = sim.node(0);
    SCOPED_TRACE(history(n0));

    // Renewals kept being tried until the deadline.
    EXPECT_GE(count_of<act::renew>(n0, 5011, deadline), 3u);
    EXPECT_TRUE(has_record(n0, "renew_failing"));
    // SIGSTOP at deadline - fence_lead, to both; no SIGTERM, no SIGCONT.
    const auto freezes = actions_of<act::freeze_process>(n0);
    ASSERT_EQ(freezes.size(), 2u);
    for (const auto& [t, f] : freezes)
        EXPECT_EQ(t, deadline - sim.cfg().fence_lead().count()) << f.name;
    EXPECT_TRUE(has_record(n0, "processes_frozen"));
    EXPECT_EQ(count_of<act::stop_process>(n0), 0u);
    EXPECT_EQ(count_of<act::thaw_process>(n0), 0u);
    // SIGKILL at deadline - kill_grace to both: a frozen process does not stop by itself.
    const auto kills = actions_of<act::kill_process>(n0);
    ASSERT_EQ(kills.size(), 2u);
    for (const auto& [t, k] : kills)
        EXPECT_EQ(t, deadline - sim.cfg().kill_grace.count()) << k.name;
    // Nothing process-related at or after the deadline; all were dead before it.
    EXPECT_EQ(count_of<act::kill_process>(n0, deadline), 0u);
    EXPECT_EQ(count_of<act::start_process>(n0, 5011), 0u);
    ASSERT_EQ(sim.intervals.size(), 2u);
    for (const Interval& iv : sim.intervals) {
        EXPECT_LT(iv.end, deadline) << iv.name;
        EXPECT_LT(iv.end, db_expiry) << iv.name;
    }
    EXPECT_EQ(sim.guard_kills, 0);
    // The term is given up after the deadline: release (lost or failed), then standby.
    const auto rel = actions_of<act::release>(n0);
    ASSERT_EQ(rel.size(), 1u);
    EXPECT_GE(rel[0].first, deadline);
    EXPECT_EQ(rel[0].second.term, 1);
    EXPECT_EQ(sim.core(0).role(), Role::standby);
    EXPECT_EQ(sim.core(0).term(), 0);

    // The database comes back: the node wins a new term after the old expiry and starts again.
    sim.node(0).db = Db::answer;
    sim.run_until(20000);
    ASSERT_EQ(sim.failures(), 0);
    const auto starts = actions_of<act::start_process>(n0, 12000);
    ASSERT_EQ(starts.size(), 2u);
    EXPECT_EQ(starts[0].second.term, 2);
    EXPECT_GE(starts[0].first, db_expiry);
    sim.expect_no_overlap();
}

TEST_P(RenewFailure, RecoveryBeforeTheFencePointStopsNothing) {
    Sim sim(one_proc(), 1);
    sim.run_until(5010);
    const long long deadline = ms_of(sim.core(0).lease_deadline());
    const long long fence_at = deadline - sim.cfg().fence_lead().count();
    sim.node(0).db = GetParam();
    // Renewals go out every 500 ms: the one sent at 6000 is the last before the fence point.
    sim.run_until(fence_at - 360);
    sim.node(0).db = Db::answer;
    sim.run_until(20000);
    ASSERT_EQ(sim.failures(), 0);
    const SimNode& n0 = sim.node(0);
    SCOPED_TRACE(history(n0));
    EXPECT_TRUE(has_record(n0, "renew_failing"));
    EXPECT_EQ(count_of<act::freeze_process>(n0), 0u);
    EXPECT_EQ(count_of<act::stop_process>(n0), 0u);
    EXPECT_EQ(count_of<act::kill_process>(n0), 0u);
    EXPECT_EQ(count_of<act::start_process>(n0), 1u);
    EXPECT_EQ(count_of<act::release>(n0), 0u);
    EXPECT_TRUE(has_record(n0, "renew_recovered"));
    EXPECT_EQ(sim.core(0).role(), Role::active);
    EXPECT_EQ(sim.core(0).term(), 1);
    EXPECT_GT(sim.core(0).lease_deadline(), at(19000));
}

// A renewal that arrives after the freeze but before the kill costs a pause, not a restart: the
// processes are thawed and go on in the same term (the chaos suite's "needless restarts").
TEST_P(RenewFailure, RecoveryAfterTheFreezeThawsAndRestartsNothing) {
    Sim sim(config_with({{"scheduler", 500ms}, {"triggerer", 500ms}}), 1);
    sim.run_until(5010);
    const long long deadline = ms_of(sim.core(0).lease_deadline());
    const long long fence_at = deadline - sim.cfg().fence_lead().count();
    sim.node(0).db = GetParam();
    sim.run_until(deadline - 400);
    sim.node(0).db = Db::answer;
    sim.run_until(20000);
    ASSERT_EQ(sim.failures(), 0);
    const SimNode& n0 = sim.node(0);
    SCOPED_TRACE(history(n0));
    const auto freezes = actions_of<act::freeze_process>(n0);
    const auto thaws = actions_of<act::thaw_process>(n0);
    ASSERT_EQ(freezes.size(), 2u);
    ASSERT_EQ(thaws.size(), 2u);
    for (const auto& [t, f] : freezes)
        EXPECT_EQ(t, fence_at) << f.name;
    for (const auto& [t, th] : thaws) {
        EXPECT_GT(t, deadline - 400) << th.name;
        EXPECT_LT(t, deadline - sim.cfg().kill_grace.count()) << th.name;
    }
    EXPECT_TRUE(has_record(n0, "processes_frozen"));
    EXPECT_TRUE(has_record(n0, "processes_thawed"));
    EXPECT_EQ(count_of<act::stop_process>(n0), 0u);
    EXPECT_EQ(count_of<act::kill_process>(n0), 0u);
    EXPECT_EQ(count_of<act::start_process>(n0), 2u);  // the two first starts, nothing since
    EXPECT_TRUE(sim.intervals.empty()) << "a process ended";
    EXPECT_EQ(sim.core(0).term(), 1);
    EXPECT_EQ(sim.core(0).process_state("scheduler"), ProcState::running);
}

// A stop that comes while the processes are frozen must reach them: SIGTERM, then SIGCONT so
// that they can act on it (a stopped process does not run its handler).
TEST_P(RenewFailure, AStopWhileFrozenSendsSigtermThenThaws) {
    Sim sim(config_with({{"scheduler", 500ms}}), 1);
    sim.node(0).sigterm_delay["scheduler"] = 50;
    sim.run_until(5010);
    const long long deadline = ms_of(sim.core(0).lease_deadline());
    const long long fence_at = deadline - sim.cfg().fence_lead().count();
    sim.node(0).db = GetParam();
    sim.run_until(fence_at + 10);
    ASSERT_EQ(count_of<act::freeze_process>(sim.node(0)), 1u);
    const Ready r = sim.step(0, ev::stop_requested{"SIGTERM"});
    std::vector<std::string> order;
    for (const Action& a : r.actions)
        if (std::holds_alternative<act::stop_process>(a) ||
            std::holds_alternative<act::thaw_process>(a))
            order.push_back(describe(a));
    ASSERT_EQ(order.size(), 2u);
    EXPECT_EQ(order[0], "stop(scheduler)");
    EXPECT_EQ(order[1], "action#" + std::to_string(Action{act::thaw_process{}}.index()));
    sim.run_until(fence_at + 200);
    ASSERT_EQ(sim.failures(), 0);
    ASSERT_EQ(sim.intervals.size(), 1u);
    EXPECT_EQ(sim.intervals[0].end, fence_at + 10 + 50) << "the SIGTERM was not acted on";
}

TEST_P(RenewFailure, AHealthFailureWhileFrozenKillsNothing) {
    Sim sim(one_proc(), 1);
    sim.run_until(5010);
    const long long deadline = ms_of(sim.core(0).lease_deadline());
    const long long fence_at = deadline - sim.cfg().fence_lead().count();
    sim.node(0).db = GetParam();
    sim.run_until(fence_at + 10);
    const Ready r = sim.step(0, ev::process_unhealthy{"scheduler", "health check timed out"});
    EXPECT_TRUE(af::test::all<act::kill_process>(r).empty());
    EXPECT_TRUE(af::test::has_record(r, "health_ignored"));
    EXPECT_EQ(sim.core(0).process_state("scheduler"), ProcState::running);
}

INSTANTIATE_TEST_SUITE_P(NoAnswerAndDbFailure, RenewFailure, ::testing::Values(Db::drop, Db::fail),
                         [](const ::testing::TestParamInfo<Db>& p) {
                             return std::string(p.param == Db::drop ? "NoAnswer" : "DbFailure");
                         });

// ---- supervision --------------------------------------------------------------------------------

TEST(Election, CrashOnceRestartsInPlaceAfterTheBackoffWithTheSameTerm) {
    Sim sim(one_proc(), 1);
    sim.run_until(3000);
    ASSERT_EQ(sim.core(0).term(), 1);
    sim.die(0, "scheduler", "exited with status 1");
    sim.run_until(10000);
    ASSERT_EQ(sim.failures(), 0);
    const SimNode& n0 = sim.node(0);
    SCOPED_TRACE(history(n0));
    EXPECT_TRUE(has_record(n0, "process_exited"));
    EXPECT_TRUE(has_record(n0, "restart_scheduled"));
    const auto starts = actions_of<act::start_process>(n0);
    ASSERT_EQ(starts.size(), 2u);
    EXPECT_EQ(starts[1].first, 3000 + sim.cfg().restart_backoff_initial.count());
    EXPECT_EQ(starts[1].second.term, 1);
    EXPECT_EQ(count_of<act::try_acquire>(n0, 1), 0u);
    EXPECT_EQ(count_of<act::release>(n0), 0u);
    EXPECT_EQ(count_of<act::stop_process>(n0) + count_of<act::kill_process>(n0), 0u);
    EXPECT_EQ(sim.lease.term, 1);
    EXPECT_EQ(sim.core(0).process_state("scheduler"), ProcState::running);
}

TEST(Election, CrashLoopStopsReleasesAndRespectsTheCooldown) {
    Sim sim(config_with({{"scheduler", 1000ms}, {"triggerer", 1000ms}}), 2);
    sim.node(1).wakeup = 100;
    sim.node(0).crash_after["scheduler"] = 10;
    sim.node(0).sigterm_delay["triggerer"] = 200;
    sim.run_until(30000);
    ASSERT_EQ(sim.failures(), 0);
    const SimNode& n0 = sim.node(0);
    SCOPED_TRACE(history(n0));

    // Five starts of the scheduler in term 1 with doubling back-off, then the hand-over.
    std::vector<long long> sched_starts;
    for (const auto& [t, s] : actions_of<act::start_process>(n0))
        if (s.name == "scheduler") {
            sched_starts.push_back(t);
            EXPECT_EQ(s.term, 1);
        }
    ASSERT_EQ(sched_starts.size(), 5u);
    for (std::size_t k = 1; k < sched_starts.size(); ++k)
        EXPECT_EQ(sched_starts[k] - (sched_starts[k - 1] + 10),
                  500LL << (k - 1));  // 500, 1000, 2000, 4000
    const long long fifth_crash = sched_starts.back() + 10;
    EXPECT_TRUE(has_record(n0, "crash_loop"));

    // The healthy process is stopped at the crash-loop step, then the lease is released.
    const auto stops = actions_of<act::stop_process>(n0);
    ASSERT_EQ(stops.size(), 1u);
    EXPECT_EQ(stops[0].second.name, "triggerer");
    EXPECT_EQ(stops[0].first, fifth_crash);
    const auto rel = actions_of<act::release>(n0);
    ASSERT_EQ(rel.size(), 1u);
    EXPECT_EQ(rel[0].first, fifth_crash + 200);
    EXPECT_EQ(rel[0].second.term, 1);
    EXPECT_EQ(count_of<act::kill_process>(n0), 0u);

    // node-1 takes over right after the release.
    const auto wins = actions_of<act::start_process>(sim.node(1));
    ASSERT_FALSE(wins.empty());
    EXPECT_GE(wins[0].first, rel[0].first);
    EXPECT_LE(wins[0].first, rel[0].first + sim.cfg().poll_interval.count());
    EXPECT_EQ(wins[0].second.term, 2);

    // node-0 does not ask for the lease again before the cooldown has passed.
    const auto tries = actions_of<act::try_acquire>(n0, fifth_crash);
    ASSERT_FALSE(tries.empty());
    EXPECT_GE(tries[0].first, fifth_crash + sim.cfg().handover_cooldown.count());
    EXPECT_EQ(sim.core(0).role(), Role::standby);
    sim.expect_no_overlap();
}

TEST(Election, SingleNodeCrashLoopWaitsForTheCooldownThenTriesAgain) {
    Sim sim(one_proc(), 1);
    sim.node(0).crash_after["scheduler"] = 10;
    sim.run_until(40000);
    ASSERT_EQ(sim.failures(), 0);
    const SimNode& n0 = sim.node(0);
    SCOPED_TRACE(history(n0));
    const auto rel = actions_of<act::release>(n0);
    ASSERT_GE(rel.size(), 1u);
    const auto tries = actions_of<act::try_acquire>(n0, rel[0].first);
    ASSERT_FALSE(tries.empty());
    EXPECT_GE(tries[0].first, rel[0].first + sim.cfg().handover_cooldown.count());
    // The next term starts with a clean crash count: five more starts before the next hand-over.
    std::size_t term2 = 0;
    for (const auto& [t, s] : actions_of<act::start_process>(n0))
        term2 += s.term == 2 ? 1u : 0u;
    EXPECT_EQ(term2, 5u);
}

TEST(Election, TerminateRequestKillsAndHandsOver) {
    Sim sim(one_proc(), 2);
    sim.node(1).wakeup = 100;
    sim.run_until(2000);
    const Ready r = sim.step(0, ev::process_terminate{"scheduler", "dashboard"});
    ASSERT_FALSE(r.actions.empty());
    EXPECT_TRUE(std::holds_alternative<act::kill_process>(r.actions[0]));
    sim.run_until(10000);
    ASSERT_EQ(sim.failures(), 0);
    EXPECT_EQ(count_of<act::release>(sim.node(0)), 1u);
    EXPECT_EQ(sim.core(1).role(), Role::active);
    EXPECT_EQ(sim.core(1).term(), 2);
    const auto tries = actions_of<act::try_acquire>(sim.node(0), 2000);
    ASSERT_FALSE(tries.empty());
    EXPECT_GE(tries[0].first, 2000 + sim.cfg().handover_cooldown.count());
    sim.expect_no_overlap();
}

// ---- graceful stop ------------------------------------------------------------------------------

TEST(Election, GracefulStopWhileActiveRenewsUntilExitThenReleasesThenExits) {
    Sim sim(config_with({{"scheduler", 5000ms}}), 2);
    sim.node(1).wakeup = 100;
    sim.node(0).sigterm_delay["scheduler"] = 1200;
    sim.run_until(2000);
    ASSERT_EQ(sim.core(0).role(), Role::active);
    const Ready r = sim.step(0, ev::stop_requested{"SIGTERM"});
    ASSERT_EQ(sim.core(0).role(), Role::stopping);
    EXPECT_EQ(
        std::count_if(r.actions.begin(), r.actions.end(),
                      [](const Action& a) { return std::holds_alternative<act::stop_process>(a); }),
        1);
    sim.run_until(10000);
    ASSERT_EQ(sim.failures(), 0);
    const SimNode& n0 = sim.node(0);
    SCOPED_TRACE(history(n0));

    const long long exit_at = 2000 + 1200;
    ASSERT_EQ(sim.intervals.size(), 1u);
    EXPECT_EQ(sim.intervals[0].end, exit_at);
    EXPECT_EQ(count_of<act::kill_process>(n0), 0u);
    // Renewals go on while the process stops.
    EXPECT_GE(count_of<act::renew>(n0, 2001, exit_at), 2u);
    // Release only after the exit, then the exit action in the step of the release's answer.
    const auto rel = actions_of<act::release>(n0);
    ASSERT_EQ(rel.size(), 1u);
    EXPECT_EQ(rel[0].first, exit_at);
    EXPECT_EQ(rel[0].second.term, 1);
    const auto dis = actions_of<act::disarm_guard>(n0);
    ASSERT_EQ(dis.size(), 1u);
    EXPECT_EQ(dis[0].first, exit_at);
    const auto exits = actions_of<act::exit>(n0);
    ASSERT_EQ(exits.size(), 1u);
    EXPECT_EQ(exits[0].first, exit_at);
    EXPECT_EQ(exits[0].second.code, 0);
    EXPECT_TRUE(std::holds_alternative<act::exit>(n0.actions.back().a));
    const auto exit_step = std::find_if(n0.steps.begin(), n0.steps.end(), [](const StepLog& s) {
        return std::any_of(s.actions.begin(), s.actions.end(),
                           [](const Action& a) { return std::holds_alternative<act::exit>(a); });
    });
    ASSERT_NE(exit_step, n0.steps.end());
    EXPECT_TRUE(std::holds_alternative<ev::release_result>(exit_step->e));
    EXPECT_EQ(sim.core(0).role(), Role::stopped);

    // The standby takes over within one poll of the release.
    const auto wins = actions_of<act::start_process>(sim.node(1));
    ASSERT_EQ(wins.size(), 1u);
    EXPECT_GE(wins[0].first, exit_at);
    EXPECT_LE(wins[0].first, exit_at + sim.cfg().poll_interval.count());
    EXPECT_EQ(wins[0].second.term, 2);
    sim.expect_no_overlap();
}

TEST(Election, GracefulStopWithALeaseHintHandsOverAtOnce) {
    Sim sim(one_proc(), 2);
    sim.hints = true;
    sim.node(1).wakeup = 100;
    sim.run_until(2000);
    sim.step(0, ev::stop_requested{"SIGTERM"});
    sim.run_until(10000);
    ASSERT_EQ(sim.failures(), 0);
    const auto rel = actions_of<act::release>(sim.node(0));
    ASSERT_EQ(rel.size(), 1u);
    const auto wins = actions_of<act::start_process>(sim.node(1));
    ASSERT_EQ(wins.size(), 1u);
    EXPECT_EQ(wins[0].first, rel[0].first);
}

TEST(Election, StopWhileStandbyExitsAtOnce) {
    Sim sim(one_proc(), 2);
    sim.node(1).wakeup = 100;
    sim.run_until(2000);
    ASSERT_EQ(sim.core(1).role(), Role::standby);
    const Ready r = sim.step(1, ev::stop_requested{"SIGTERM"});
    ASSERT_FALSE(r.actions.empty());
    EXPECT_TRUE(std::holds_alternative<act::exit>(r.actions.back()));
    for (const Action& a : r.actions)
        EXPECT_TRUE(std::holds_alternative<act::exit>(a) || std::holds_alternative<act::record>(a))
            << describe(a);
    EXPECT_EQ(r.next_wakeup, TimePoint::max());
    EXPECT_EQ(sim.core(1).role(), Role::stopped);
    // After the exit the core is inert.
    EXPECT_TRUE(sim.core(1).step(ev::tick{}, at(2500)).actions.empty());
    EXPECT_TRUE(sim.core(1).step(ev::lease_hint{}, at(2600)).actions.empty());
    sim.run_until(5000);
    EXPECT_EQ(sim.core(0).role(), Role::active);
    EXPECT_EQ(count_of<act::try_acquire>(sim.node(1), 2000), 0u);
}

// Regression (fixed; src/core/election.cpp, reconcile(), lines 443-447, and on(acquire_result),
// lines 153-157): a standby that gets stop_requested while its try_acquire is still in flight exits
// at once. If that acquire wins, the reply arrives at an exited core that ignores everything, so
// the "give it straight back" branch in on(acquire_result) can never run and the won lease stays
// held by a dead node until its TTL runs out: a hand-over delay of a whole TTL (liveness only,
// no safety issue). Expected: the core waits for the acquire reply (at most poll_interval) before
// exiting and releases a won lease; actual: exit{0} at once and the won lease is never released.
TEST(Election, StopWhileAnAcquireIsInFlightGivesAWonLeaseBack) {
    Election e(one_proc(), "node-0");
    const Ready first = e.step(ev::tick{}, at(0));
    ASSERT_FALSE(first.actions.empty());
    ASSERT_TRUE(std::holds_alternative<act::try_acquire>(first.actions[0]));
    e.step(ev::stop_requested{"SIGTERM"}, at(10));
    ev::acquire_result won;
    won.won = true;
    won.term = 1;
    won.holder = "node-0";
    won.sent_at = at(0);
    const Ready r = e.step(won, at(20));
    bool released = false;
    for (const Action& a : r.actions)
        if (const auto* rel = std::get_if<act::release>(&a))
            released = rel->term == 1;
    EXPECT_TRUE(released) << "a lease won during shutdown is never released";
}

// Regression (fixed; src/core/election.cpp, reconcile_processes(), lines 477-482): on a graceful
// stop the SIGKILL time is fixed when the stop starts as min(now + stop_timeout, lease_deadline -
// kill_grace) with the lease deadline of that moment, and it is never recomputed although renewals
// go on while the processes stop. So a process with stop_timeout 10000 ms is SIGKILLed about 2.6 s
// after SIGTERM even though every renewal succeeds. The issue asks for "SIGKILL after the stop
// timeout or earlier if the deadline demands" (and enforce_deadline() already kills at the real
// deadline if renewals fail). Expected: with healthy renewals a process that needs 6 s to stop is
// not killed; actual: kill_process at stop + 2600 ms.
TEST(Election, GracefulStopHonoursTheStopTimeoutWhileRenewalsSucceed) {
    Sim sim(config_with({{"scheduler", 10000ms}}), 1);
    sim.node(0).sigterm_delay["scheduler"] = 6000;
    sim.run_until(2000);
    sim.step(0, ev::stop_requested{"SIGTERM"});
    sim.run_until(20000);
    ASSERT_EQ(sim.failures(), 0);
    const SimNode& n0 = sim.node(0);
    EXPECT_EQ(count_of<act::kill_process>(n0), 0u) << history(n0);
    ASSERT_EQ(sim.intervals.size(), 1u);
    EXPECT_EQ(sim.intervals[0].end, 2000 + 6000);
}

// ---- stale terms --------------------------------------------------------------------------------

TEST(Election, RepliesAboutAnOlderTermAreIgnored) {
    Sim sim(one_proc(), 2);
    sim.lease.term = 2;  // earlier terms were held before: node-0 wins term 3
    sim.node(1).wakeup = 100;
    sim.run_until(2010);
    ASSERT_EQ(sim.core(0).term(), 3);
    const TimePoint deadline = sim.core(0).lease_deadline();
    const auto expect_ignored = [&](int i, const Event& e, const char* what) {
        SCOPED_TRACE(what);
        const Ready r = sim.step(i, e);
        for (const Action& a : r.actions)
            ADD_FAILURE() << "unexpected action " << describe(a);
        EXPECT_EQ(sim.core(0).role(), Role::active);
        EXPECT_EQ(sim.core(0).term(), 3);
        EXPECT_EQ(sim.core(0).lease_deadline(), deadline);
        EXPECT_EQ(sim.core(0).process_state("scheduler"), ProcState::running);
    };
    expect_ignored(0, ev::renew_result{false, 2, at(2000)}, "refused renewal of term 2");
    expect_ignored(0, ev::renew_result{true, 2, at(2010)}, "good renewal of term 2");
    expect_ignored(0, ev::acquire_result{true, 2, std::string("node-0"), 0ms, at(2010), "", false},
                   "won acquire of term 2");
    expect_ignored(0,
                   ev::acquire_result{false, 2, std::string("node-1"), 2000ms, at(2010), "", false},
                   "lost acquire of term 2");
    expect_ignored(0, ev::release_result{2, true}, "release of term 2");
    expect_ignored(0, ev::db_failure{ev::db_op::renew, 2, "timeout"}, "renew failure of term 2");
    expect_ignored(0, ev::db_failure{ev::db_op::release, 2, "timeout"},
                   "release failure of term 2");
    // A standby ignores renewal replies altogether.
    for (const Action& a : sim.step(1, ev::renew_result{false, 1, at(2000)}).actions)
        ADD_FAILURE() << "standby acted on a renewal reply: " << describe(a);
    EXPECT_EQ(sim.core(1).role(), Role::standby);
    sim.run_until(10000);
    ASSERT_EQ(sim.failures(), 0);
    EXPECT_FALSE(has_record(sim.node(0), "renew_failing"));
    EXPECT_FALSE(has_record(sim.node(0), "lease_lost"));
    EXPECT_EQ(count_of<act::kill_process>(sim.node(0)), 0u);
    EXPECT_EQ(sim.core(0).term(), 3);
}

TEST(Election, LateRenewReplyDoesNotReviveAnExpiredTerm) {
    Sim sim(one_proc(), 1);
    sim.run_until(2010);
    sim.node(0).db = Db::drop;
    sim.run_until(4800);  // deadline 4700 passed, process stopped, release not answered yet
    ASSERT_EQ(sim.core(0).term(), 1);
    const TimePoint deadline = sim.core(0).lease_deadline();
    ASSERT_EQ(deadline, at(4700));
    // A good reply for term 1, sent before the deadline, arrives after it.
    const Ready r = sim.step(0, ev::renew_result{true, 1, at(2500)});
    for (const Action& a : r.actions) {
        EXPECT_FALSE(std::holds_alternative<act::start_process>(a)) << describe(a);
        EXPECT_FALSE(std::holds_alternative<act::arm_guard>(a)) << describe(a);
        EXPECT_FALSE(std::holds_alternative<act::renew>(a)) << describe(a);
    }
    EXPECT_EQ(sim.core(0).lease_deadline(), deadline);
    EXPECT_NE(sim.core(0).role(), Role::active);
    EXPECT_EQ(sim.core(0).process_state("scheduler"), ProcState::stopped);
}

// ---- clock jumps --------------------------------------------------------------------------------

TEST(Election, ClockJumpKillsFirst) {
    Sim sim(config_with({{"scheduler", 5000ms}, {"triggerer", 5000ms}}), 1);
    sim.run_until(2010);
    ASSERT_EQ(sim.core(0).role(), Role::active);
    sim.now += 60000;  // the whole machine was stopped for a minute
    const Ready r = sim.step(0, ev::tick{});
    ASSERT_GE(r.actions.size(), 2u);
    EXPECT_TRUE(std::holds_alternative<act::kill_process>(r.actions[0])) << describe(r.actions[0]);
    EXPECT_TRUE(std::holds_alternative<act::kill_process>(r.actions[1])) << describe(r.actions[1]);
    for (const Action& a : r.actions) {
        EXPECT_FALSE(std::holds_alternative<act::renew>(a)) << describe(a);
        EXPECT_FALSE(std::holds_alternative<act::start_process>(a)) << describe(a);
        EXPECT_FALSE(std::holds_alternative<act::try_acquire>(a)) << describe(a);
    }
    EXPECT_NE(sim.core(0).role(), Role::active);
    sim.run_until(sim.now + 10000);
    ASSERT_EQ(sim.failures(), 0);
    EXPECT_TRUE(has_record(sim.node(0), "fenced"));
    // It then gives the term back and wins a new one.
    EXPECT_EQ(sim.core(0).term(), 2);
    EXPECT_EQ(sim.core(0).role(), Role::active);
}

TEST(Election, ClockJumpKillsFirstWhateverEventWakesTheCore) {
    const std::vector<std::pair<const char*, Event>> wakers = {
        {"renew reply", ev::renew_result{true, 1, at(2000)}},
        {"lease hint", ev::lease_hint{}},
        {"stop request", ev::stop_requested{"SIGTERM"}},
        {"acquire reply",
         ev::acquire_result{false, 1, std::string("x"), 100ms, at(2000), "", false}},
        {"db failure", ev::db_failure{ev::db_op::renew, 1, "timeout"}},
    };
    for (const auto& [what, e] : wakers) {
        SCOPED_TRACE(what);
        Sim sim(one_proc(), 1);
        sim.run_until(2010);
        ASSERT_EQ(sim.core(0).role(), Role::active);
        const TimePoint deadline = sim.core(0).lease_deadline();
        sim.now += 60000;
        const Ready r = sim.step(0, e);
        ASSERT_FALSE(r.actions.empty());
        EXPECT_TRUE(std::holds_alternative<act::kill_process>(r.actions[0]))
            << describe(r.actions[0]);
        EXPECT_EQ(sim.core(0).lease_deadline(), deadline);  // a late reply extends nothing
        EXPECT_TRUE(sim.intervals.size() == 1 && sim.intervals[0].end == sim.now);
    }
}

TEST(Election, NoBusyLoopWhileWaitingForAProcessToExit) {
    // The process ignores even SIGKILL (D state); the core must still sleep between steps.
    Election e(one_proc(), "node-0");
    Ready r = e.step(ev::tick{}, at(0));
    r = e.step(ev::acquire_result{true, 1, std::string("node-0"), 0ms, at(0), "", false}, at(0));
    long long now = 0;
    std::size_t kills = 0;
    int steps = 0;
    while (r.next_wakeup != TimePoint::max() && steps < 200) {
        ASSERT_GT(r.next_wakeup, at(now));
        now = ms_of(r.next_wakeup);
        r = e.step(ev::tick{}, at(now));
        ++steps;
        for (const Action& a : r.actions)
            kills += std::holds_alternative<act::kill_process>(a) ? 1u : 0u;
    }
    // No renewal was ever answered: it fenced once, past the deadline it has nothing left to do
    // by time and sleeps until the exit is reported, without repeating the kill.
    EXPECT_LT(steps, 200);
    EXPECT_EQ(r.next_wakeup, TimePoint::max());
    EXPECT_GT(now, 2700 - 100 - 1);
    EXPECT_EQ(kills, 1u);
    EXPECT_EQ(e.process_state("scheduler"), ProcState::stopping);
    // The exit report then lets it give the term back.
    r = e.step(ev::process_exited{"scheduler", "killed by signal 9"}, at(now + 5000));
    bool released = false;
    for (const Action& a : r.actions)
        released = released || std::holds_alternative<act::release>(a);
    EXPECT_TRUE(released);
}

// ---- long randomized simulation ----------------------------------------------------------------

class RandomizedSimulation : public ::testing::TestWithParam<std::uint32_t> {};

TEST_P(RandomizedSimulation, NeverTwoNodesWithLiveProcessesAndTermsOnlyGrow) {
    const std::uint32_t seed = GetParam();
    std::mt19937 pick(seed * 7919u + 1u);
    ElectionConfig cfg = config_with({{"scheduler", 1000ms}, {"triggerer", 3000ms}});
    if (seed % 2 == 1) {  // tighter timings on odd seeds
        cfg.ttl = 1500ms;
        cfg.renew_interval = 300ms;
        cfg.fence_margin = 150ms;
        cfg.poll_interval = 300ms;
        cfg.kill_grace = 50ms;
        cfg.handover_cooldown = 3000ms;
    }
    const int n = 3 + static_cast<int>(seed % 3);  // 3..5 nodes
    Sim sim(cfg, n, seed);
    sim.hints = true;
    sim.restart_after_exit = true;
    Faults& f = sim.faults;
    f.on = true;
    f.max_delay = 30;
    f.p_slow = 0.05;
    f.slow_delay = cfg.ttl.count();
    f.p_drop_request = 0.03;
    f.p_drop_reply = 0.03;
    f.p_fail_before = 0.03;
    f.p_fail_after = 0.02;
    f.p_crash = seed % 4 == 0 ? 0.9 : 0.3;  // crash loops on some seeds
    f.crash_within = seed % 4 == 0 ? 1500 : 8000;
    f.p_pause = 0.004;
    f.pause_max = 3 * cfg.ttl.count();
    f.p_kill_daemon = 0.0005;
    f.p_graceful_restart = 0.0005;
    f.sigchld_max = 20;
    for (int i = 0; i < n; ++i)
        sim.node(i).wakeup = std::uniform_int_distribution<long long>(0, 300)(pick);

    const long long chaos_end = 240000;
    sim.chaos(chaos_end);
    sim.run_until(chaos_end);
    ASSERT_EQ(sim.failures(), 0);

    // Quiet period: no new faults; everything paused or down comes back.
    f = Faults{};
    for (int i = 0; i < n; ++i) {
        sim.node(i).paused = false;
        sim.restart(i);
    }
    sim.run_until(chaos_end + 40000);
    ASSERT_EQ(sim.failures(), 0);
    sim.expect_no_overlap();

    // Plenty happened: several terms, several failovers.
    std::set<int> active_nodes;
    for (const Interval& iv : sim.intervals)
        active_nodes.insert(iv.node);
    EXPECT_GE(sim.lease.term, 5);
    EXPECT_GE(active_nodes.size(), 2u);

    // Per node, the terms it started processes in never go back.
    for (int i = 0; i < n; ++i) {
        std::int64_t last = 0;
        for (const auto& [t, s] : actions_of<act::start_process>(sim.node(i))) {
            EXPECT_GE(s.term, last) << sim.node(i).id << " at " << t;
            last = s.term;
        }
    }

    // And afterwards exactly one node is active with all its processes running.
    int active = 0;
    for (int i = 0; i < n; ++i) {
        if (sim.core(i).role() != Role::active)
            continue;
        ++active;
        EXPECT_EQ(sim.lease.holder, sim.node(i).id);
        EXPECT_EQ(sim.core(i).term(), sim.lease.term);
        for (const auto& p : cfg.processes)
            EXPECT_TRUE(sim.node(i).procs[p.name].alive) << sim.node(i).id << " " << p.name;
    }
    EXPECT_EQ(active, 1);
}

INSTANTIATE_TEST_SUITE_P(Seeds, RandomizedSimulation, ::testing::Range(1u, 13u));

}  // namespace

// ---- a database failover (issue 21) -------------------------------------------------------------

struct DbFailover {
    const char* name;
    long long lost_ms;      ///< the replica missed the renewals of this long before the loss
    long long clock_ahead;  ///< the promoted server's clock runs this far ahead
};

void PrintTo(const DbFailover& f, std::ostream* os) {
    *os << f.name;
}

class DbFailoverTest : public ::testing::TestWithParam<DbFailover> {
  protected:
    /// node-0 active; at t=10000 the primary is lost and the replica promoted, holding the row
    /// as it was lost_ms earlier; node-0's connections need `reconnect` ms to reach the new
    /// primary (node-1's poll gets there first). Returns the simulation after 30 s.
    static std::unique_ptr<Sim> run(bool one_history, long long reconnect) {
        auto sim = std::make_unique<Sim>(one_proc(), 2);
        const DbFailover f = GetParam();
        sim->lease.one_history = one_history;
        sim->check_db = false;  // the promoted row may lag node-0's live term: the point here
        sim->node(1).wakeup = 1000;
        LeaseRow copy;
        sim->later(10000 - f.lost_ms, [&s = *sim, &copy] { copy = s.lease; });
        sim->later(10000, [&s = *sim, &copy, f, reconnect] {
            s.lease.fail_over(copy, f.clock_ahead);
            s.node(0).db = Db::fail;
            s.later(s.now + reconnect, [&s] { s.node(0).db = Db::answer; });
        });
        sim->run_until(30000);
        return sim;
    }
};

TEST_P(DbFailoverTest, TheOldRuleLetsTheStandbyTakeALiveLease) {
    // The model of the statements before issue 21: the simulation's own invariant (never a
    // start while another node has a process alive) trips, so the tests below can fail.
    static std::unique_ptr<Sim> sim;  // EXPECT_NONFATAL_FAILURE's statement sees no locals
    EXPECT_NONFATAL_FAILURE(sim = run(false, 2000),
                            "node-1 started scheduler while node-0 has processes alive");
    EXPECT_GT(sim->failures(), 0);
    sim.reset();
}

TEST_P(DbFailoverTest, TheHolderThatReachesTheNewPrimaryInTimeKeepsItsScheduler) {
    auto sim = run(true, 600);
    ASSERT_EQ(sim->failures(), 0);
    sim->expect_no_overlap();
    EXPECT_EQ(sim->core(0).role(), Role::active);
    EXPECT_EQ(sim->core(0).term(), 1);
    EXPECT_EQ(count_of<act::start_process>(sim->node(0)), 1u) << "restarted its scheduler";
    EXPECT_EQ(count_of<act::kill_process>(sim->node(0)), 0u);
    EXPECT_EQ(count_of<act::start_process>(sim->node(1)), 0u);
}

TEST_P(DbFailoverTest, AHolderThatNeverReachesItIsWaitedForAFullTtlOnTheNewServer) {
    auto sim = run(true, 1000000);  // node-0 never reaches the new primary
    ASSERT_EQ(sim->failures(), 0);
    sim->expect_no_overlap();
    const auto starts = actions_of<act::start_process>(sim->node(1));
    ASSERT_EQ(starts.size(), 1u) << history(sim->node(1));
    EXPECT_EQ(starts[0].second.term, 2);
    // the first claim on the new server (within a poll of the failover) re-stamped the row:
    // node-1 won a TTL after it, not before
    EXPECT_GE(starts[0].first, 10000 + sim->cfg().ttl.count());
    EXPECT_LE(starts[0].first, 10000 + sim->cfg().poll_interval.count() + sim->cfg().ttl.count() +
                                   sim->cfg().poll_interval.count());
}

INSTANTIATE_TEST_SUITE_P(Election, DbFailoverTest,
                         ::testing::Values(DbFailover{"LostRenewals", 3000, 0},
                                           DbFailover{"ClockAhead", 0, 3000}),
                         [](const auto& i) { return std::string(i.param.name); });
