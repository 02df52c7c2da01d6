#pragma once

#include <mutex>
#include <optional>
#include <utility>

#include "af/db/job_queue.hpp"
#include "af/util/boot_clock.hpp"

namespace af::db {

/// Wakes a thread that sleeps in poll(): an eventfd, so the same wait can also watch a
/// connection's socket (NOTIFY arrives there), which a condition variable cannot.
class WakeFd {
  public:
    WakeFd();
    ~WakeFd();
    WakeFd(const WakeFd&) = delete;
    WakeFd& operator=(const WakeFd&) = delete;

    void notify();
    /// Sleeps until notified, `until` passes, or `socket` (if >= 0) is readable or failed.
    /// Returns whether the socket is what woke it.
    bool wait(TimePoint until, int socket = -1);

  private:
    int fd_{-1};
};

/// The job queue of one database connection, shared between the threads that add work and the
/// one thread that owns the connection and runs it. Every access to the queue is under one lock;
/// the owner sleeps on a WakeFd between jobs. The main connection (DbWorker) and each renewal
/// lane (RenewLanes) run on one of these.
template <class... Jobs>
class Mailbox {
  public:
    using Queue = JobQueue<Jobs...>;
    using Job = typename Queue::Job;

    /// What the owner thread does next: run `job`, or (no job) sleep until `until`, or stop.
    struct Next {
        std::optional<Job> job;
        bool stop{false};
        TimePoint until{TimePoint::max()};
    };

    template <class J>
    void push(J job, TimePoint due = TimePoint::min()) {
        {
            std::lock_guard lk(mu_);
            q_.push(std::move(job), due);
        }
        wake_.notify();
    }

    /// Puts back a job that could not run (called by the owner: no wake needed).
    template <class J>
    void push_front(J job) {
        std::lock_guard lk(mu_);
        q_.push_front(std::move(job));
    }

    /// Runs `f(queue)` under the lock, for a change that must be seen whole, then wakes the
    /// owner.
    template <class F>
    auto with(F&& f) {
        struct Wake {
            WakeFd& w;
            ~Wake() { w.notify(); }
        } wake{wake_};
        std::lock_guard lk(mu_);
        return f(q_);
    }

    /// Stops the owner once the work left (but polls) is done or `drain_until` passes.
    void stop(TimePoint drain_until) {
        {
            std::lock_guard lk(mu_);
            stopping_ = true;
            drain_until_ = drain_until;
        }
        wake_.notify();
    }

    /// For the owner thread: the job to run at `now` (highest priority first), or how long to
    /// sleep, or stop.
    Next next(TimePoint now) {
        std::lock_guard lk(mu_);
        Next n;
        if (stopping_ && (q_.empty(true) || now >= drain_until_)) {
            n.stop = true;
            return n;
        }
        n.job = q_.pop(now, stopping_);
        if (!n.job)
            n.until = stopping_ ? std::min(q_.next_due(true), drain_until_) : q_.next_due();
        return n;
    }

    bool wait(TimePoint until, int socket = -1) { return wake_.wait(until, socket); }

    std::uint64_t dropped() const {
        std::lock_guard lk(mu_);
        return q_.dropped();
    }

  private:
    mutable std::mutex mu_;
    Queue q_;
    bool stopping_{false};
    TimePoint drain_until_{TimePoint::max()};
    WakeFd wake_;
};

}  // namespace af::db
