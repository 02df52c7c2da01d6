// DbWorker and its renewal lanes with the database unreachable (a closed local port): lease
// requests are answered at once with a failure, the threads keep serving calls made from
// another thread, and stop() returns promptly with events still owed. No PostgreSQL: the
// statements themselves are covered by tests/integration. Under -DAF_TSAN=ON this is also
// where the worker's threads and queues meet ThreadSanitizer.
#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "af/db/db_worker.hpp"

namespace {

using namespace std::chrono_literals;
namespace ev = af::core::ev;

/// Collects the sink's events, which arrive on the worker's threads.
class Events {
  public:
    void add(af::core::Event e) {
        {
            std::lock_guard lk(mu_);
            events_.push_back(std::move(e));
        }
        cv_.notify_all();
    }
    /// The db_failure events for `op` seen within `limit` (waits until `n` of them arrived).
    std::vector<ev::db_failure> failures(ev::db_op op, std::size_t n,
                                         std::chrono::milliseconds limit) {
        std::unique_lock lk(mu_);
        std::vector<ev::db_failure> out;
        cv_.wait_for(lk, limit, [&] {
            out.clear();
            for (const auto& e : events_)
                if (const auto* f = std::get_if<ev::db_failure>(&e); f && f->op == op)
                    out.push_back(*f);
            return out.size() >= n;
        });
        return out;
    }

  private:
    std::mutex mu_;
    std::condition_variable cv_;
    std::vector<af::core::Event> events_;
};

af::db::WorkerSettings unreachable() {
    af::db::WorkerSettings s;
    // Port 1 on the loopback: refused at once, nothing listens there.
    s.conninfo = "host=127.0.0.1 port=1 dbname=none user=none";
    s.scope = {"af", "c"};
    s.node_id = "n1";
    s.connect_timeout = af::Duration{2000};
    s.lease = {.ttl = af::Duration{1500},
               .renew_interval = af::Duration{250},
               .fence_margin = af::Duration{150},
               .poll_interval = af::Duration{250}};
    return s;
}

TEST(DbWorkerDown, LeaseRequestsFailAtOnceAndRenewalsFailOnTheirLanes) {
    Events events;
    af::db::DbWorker w(unreachable(), [&](af::core::Event e) { events.add(std::move(e)); });
    w.start();
    const auto t0 = std::chrono::steady_clock::now();
    w.acquire(0);
    w.renew(7);
    w.release(7, "");
    const auto acquires = events.failures(ev::db_op::acquire, 1, 5s);
    const auto renewals = events.failures(ev::db_op::renew, 1, 5s);
    const auto releases = events.failures(ev::db_op::release, 1, 5s);
    // Bounded by one refused connect each, not by any timeout.
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 4s);
    ASSERT_EQ(acquires.size(), 1u);
    ASSERT_EQ(renewals.size(), 1u);
    EXPECT_EQ(renewals[0].term, 7);
    ASSERT_EQ(releases.size(), 1u);
    EXPECT_EQ(releases[0].term, 7);
    EXPECT_FALSE(w.connected());
    EXPECT_EQ(w.incarnation(), 0);
    w.stop(af::Duration{0});
}

TEST(DbWorkerDown, CallsFromManyThreadsWhileDownAndAPromptStop) {
    Events events;
    af::db::DbWorker w(unreachable(), [&](af::core::Event e) { events.add(std::move(e)); });
    w.start();
    // The daemon calls from its loop thread; here several threads call at once, which is a
    // harder test of the queue's lock than the daemon needs.
    std::vector<std::thread> callers;
    for (int k = 0; k < 3; ++k)
        callers.emplace_back([&w, k] {
            for (int i = 0; i < 200; ++i) {
                w.record("test_event", "n" + std::to_string(i), k);
                af::db::NodeReport r;
                r.state = "standby";
                w.publish(r);
                w.set_active(i % 2 == 0);
                w.renew(k);
                if (i % 50 == 0)
                    w.acquire(0);
                (void)w.connected();
                (void)w.statements();
                (void)w.events_dropped();
                (void)w.peer_incarnations();
            }
        });
    for (auto& c : callers)
        c.join();
    EXPECT_GE(events.failures(ev::db_op::acquire, 1, 5s).size(), 1u);
    EXPECT_EQ(w.events_dropped(), 0u);  // 600 events are well inside the bound, all kept
    // Events are owed to the log, but stop() gives them `drain` and no more.
    const auto t0 = std::chrono::steady_clock::now();
    w.stop(af::Duration{300});
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 2s);
}

}  // namespace
