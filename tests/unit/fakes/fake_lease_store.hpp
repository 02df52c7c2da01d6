#pragma once

// The LeaseStore port in memory: one FakeDb (the lease row on the simulated clock, which stands
// for the database clock) shared by the nodes of a test, and one FakeLeaseStore per node that
// answers after a latency. A store can be taken down (every request fails at once, as with a
// lost connection) or made to hang (requests are never answered, as behind a dead TCP peer).
#include <algorithm>
#include <string>
#include <vector>

#include "af/ports/lease_store.hpp"
#include "sim_clock.hpp"

namespace af::fakes {

struct FakeDb {
    explicit FakeDb(SimClock& c) : clock(c) {}
    SimClock& clock;
    std::string holder;  ///< "" when released
    std::int64_t term{0};
    TimePoint expires{};
    std::string reserved_for;
    TimePoint reserved_until{};
    struct Row {
        std::string node, kind, detail;
        std::int64_t term;
    };
    std::vector<Row> events;
    std::string last_holder;              ///< who won the latest term
    std::vector<std::int64_t> won_terms;  ///< every term won, in order

    bool free_for(const std::string& node) const {
        const TimePoint now = clock.now();
        if (!holder.empty() && holder != node && now < expires)
            return false;
        return reserved_for.empty() || reserved_for == node || now >= reserved_until;
    }
    bool has_event(const std::string& node, const std::string& kind) const {
        return std::any_of(events.begin(), events.end(),
                           [&](const Row& r) { return r.node == node && r.kind == kind; });
    }
};

class FakeLeaseStore : public ports::LeaseStore {
  public:
    enum class Mode { up, down, hang };

    FakeLeaseStore(FakeDb& db, std::string node, Duration ttl, Duration answer_after = Duration{2})
        : latency(answer_after), db_(db), node_(std::move(node)), ttl_(ttl) {}

    void start(ports::EventSink sink) override { sink_ = std::move(sink); }
    void stop(Duration) override {
        sink_ = nullptr;
        stopped_ = true;
    }

    void acquire(std::int64_t min_term) override {
        const TimePoint sent = now();
        answer(core::ev::db_op::acquire, 0, [this, min_term, sent]() -> core::Event {
            core::ev::acquire_result r;
            r.sent_at = sent;
            if (!db_.free_for(node_)) {
                r.term = db_.term;
                r.holder = db_.holder.empty() ? db_.reserved_for : db_.holder;
                r.remaining = std::chrono::duration_cast<Duration>(db_.expires - now());
                return r;
            }
            r.won = true;
            r.previous_holder = db_.last_holder == node_ ? "" : db_.last_holder;
            r.previous_released = db_.holder.empty();
            r.after_switchover = std::any_of(
                db_.events.begin(), db_.events.end(),
                [&](const auto& e) { return e.term == db_.term && e.kind == "switchover"; });
            db_.term = std::max(db_.term, min_term) + 1;
            db_.holder = db_.last_holder = node_;
            db_.expires = now() + ttl_;
            db_.reserved_for.clear();
            db_.won_terms.push_back(db_.term);
            r.term = db_.term;
            return r;
        });
    }
    void renew(std::int64_t term) override {
        ++renewals;
        if (trace)
            trace->push_back(node_ + " renew");
        const TimePoint sent = now();
        answer(core::ev::db_op::renew, term, [this, term, sent]() -> core::Event {
            const bool ok =
                !refuse_renewals && db_.holder == node_ && db_.term == term && now() < db_.expires;
            if (ok)
                db_.expires = now() + ttl_;
            return core::ev::renew_result{ok, term, sent};
        });
    }
    void release(std::int64_t term, std::string reserved_for) override {
        answer(core::ev::db_op::release, term, [this, term, reserved_for]() -> core::Event {
            const bool ok = db_.holder == node_ && db_.term == term;
            if (ok) {
                db_.holder.clear();
                db_.reserved_for = reserved_for;
                db_.reserved_until = now() + ttl_;
            }
            return core::ev::release_result{term, ok};
        });
    }
    void publish(ports::NodeRow row) override { last_row = std::move(row); }
    void record(std::string kind, std::string detail, std::int64_t term) override {
        db_.events.push_back({node_, std::move(kind), std::move(detail), term});
    }
    ports::StoreCounters counters() const override {
        ports::StoreCounters c;
        c.connected = mode == Mode::up;
        c.incarnation = 1;
        return c;
    }

    Duration latency;  ///< from sending a statement to its answer
    Mode mode{Mode::up};
    bool refuse_renewals{false};  ///< the compare-and-set fails: someone else has the lease
    int renewals{0};
    std::vector<std::string>* trace{nullptr};  ///< World::trace, when set
    ports::NodeRow last_row;
    bool stopped() const { return stopped_; }

  private:
    TimePoint now() const { return db_.clock.now(); }
    template <typename F>
    void answer(core::ev::db_op op, std::int64_t term, F result) {
        if (mode == Mode::hang) {
            db_.clock.post(ttl_, [this, op, term] {
                deliver(core::ev::db_failure{op, term, "statement timeout (fake)"});
            });
            return;
        }
        if (mode == Mode::down) {
            deliver(core::ev::db_failure{op, term, "connection lost (fake)"});
            return;
        }
        db_.clock.post(latency, [this, result] {
            if (mode == Mode::up)  // the statement reached the database
                deliver(result());
        });
    }
    void deliver(core::Event e) {
        db_.clock.post(Duration{0}, [this, e = std::move(e)] {
            if (auto sink = sink_)  // a copy: the daemon may stop the store meanwhile
                sink(e);
        });
    }

    FakeDb& db_;
    std::string node_;
    Duration ttl_;
    ports::EventSink sink_;
    bool stopped_{false};
};

}  // namespace af::fakes
