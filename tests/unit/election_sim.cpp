// The election simulation's world: the nodes, their processes, the messages and the faults
// (election_sim.hpp says what it models).
#include "election_sim.hpp"

#include <algorithm>

namespace election_sim {

Sim::Sim(ElectionConfig cfg, int n, std::uint32_t seed) : cfg_(std::move(cfg)), rng_(seed) {
    lease.ttl = cfg_.ttl.count();
    for (int i = 0; i < n; ++i) {
        SimNode node;
        node.id = "node-" + std::to_string(i);
        node.core = std::make_unique<Election>(cfg_, node.id);
        nodes.push_back(std::move(node));
    }
}

Ready Sim::step(int i, const Event& e) {
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

void Sim::die(int i, const std::string& name, const std::string& how) {
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

void Sim::run_until(long long until) {
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

bool Sim::any_alive(const SimNode& n) const {
    return std::any_of(n.procs.begin(), n.procs.end(),
                       [](const auto& kv) { return kv.second.alive; });
}

std::vector<Interval> Sim::all_intervals() const {
    std::vector<Interval> v = intervals;
    for (int i = 0; i < static_cast<int>(nodes.size()); ++i)
        for (const auto& [name, p] : nodes[static_cast<std::size_t>(i)].procs)
            if (p.alive)
                v.push_back({i, name, p.term, p.started, now});
    return v;
}

void Sim::expect_no_overlap() const {
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

void Sim::fail(const std::string& what) {
    ++failures_;
    ADD_FAILURE() << "t=" << now << ": " << what;
}

long long Sim::uniform(long long lo, long long hi) {
    return std::uniform_int_distribution<long long>(lo, hi)(rng_);
}

long long Sim::leg_delay() {
    if (!faults.on)
        return 0;
    long long d = uniform(0, faults.max_delay);
    if (chance(faults.p_slow))
        d += uniform(0, faults.slow_delay);
    return d;
}

void Sim::reply(int i, int inc, long long t, Event e) {
    later(t, [this, i, inc, e] {
        if (node(i).incarnation == inc && !node(i).down)
            deliver(i, e);
    });
}

void Sim::send_db(int i, Op op, std::int64_t term) {
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

void Sim::handle(int i, const Action& a) {
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

void Sim::start(int i, const act::start_process& x) {
    SimNode& n = node(i);
    SimProc& p = n.procs[x.name];
    if (p.alive)
        fail(n.id + " started " + x.name + " while it is still alive");
    if (x.term != n.core->term())
        fail(n.id + " started " + x.name + " with term " + std::to_string(x.term) + " but holds " +
             std::to_string(n.core->term()));
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

void Sim::sigterm(int i, const std::string& name) {
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

void Sim::kill_daemon(int i) {
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

void Sim::restart(int i) {
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

void Sim::chaos(long long until) {
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

void Sim::check_state() {
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

}  // namespace election_sim
