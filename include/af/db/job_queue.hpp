#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>

#include "af/util/boot_clock.hpp"

namespace af::db {

/// What happens to a job when one of its type is already waiting.
enum class Merge {
    keep_all,  ///< every job waits its turn
    keep_old,  ///< the new one is dropped: the waiting one gives the same answer
    replace,   ///< the new one takes the waiting one's place: only the latest counts
    earliest,  ///< one waits, due at the earlier of the two times (a poll brought forward)
};

/// Each job type states its policy as `static constexpr JobPolicy policy`, next to its fields,
/// so the order in which a connection serves its work is read in one place, not in a loop.
struct JobPolicy {
    int priority{0};               ///< lower runs first; equal priorities run in queued order
    Merge merge{Merge::keep_all};  ///<
    std::size_t bound{0};          ///< at most this many wait (the oldest are dropped); 0: no bound
    bool skip_at_stop{false};      ///< left undone when the worker stops (polls)
};

template <class J>
struct QueuedJob {
    J job;
    TimePoint due;
    std::uint64_t seq;  ///< queued order across types (0: put back at the front)
};

/// The work waiting for one database connection: typed jobs, each type with its own priority
/// and merge rule (JobPolicy). Pure: no threads, no I/O, the time passed in. The owner runs it
/// under its lock (Mailbox).
///
/// A job may be due later (a poll): it waits until then without holding back other jobs. Within
/// a type, jobs run in the order they were queued.
template <class... Jobs>
class JobQueue {
  public:
    using Job = std::variant<Jobs...>;

    /// Queues a job due at `due` (by default at once), merged by its type's policy.
    template <class J>
    void push(J job, TimePoint due = TimePoint::min()) {
        auto& q = list<J>();
        constexpr JobPolicy p = J::policy;
        if (!q.empty()) {
            if constexpr (p.merge == Merge::keep_old)
                return;
            if constexpr (p.merge == Merge::replace || p.merge == Merge::earliest) {
                auto& w = q.front();
                w.job = std::move(job);
                if constexpr (p.merge == Merge::earliest)
                    w.due = std::min(w.due, due);
                else
                    w.due = due;
                return;
            }
        }
        if constexpr (p.bound > 0) {
            if (q.size() >= p.bound) {
                q.pop_front();
                ++dropped_;
            }
        }
        q.push_back(Entry<J>{std::move(job), due, ++seq_});
    }

    /// Puts back a job that could not run (no connection): first of its type, and ahead of
    /// everything else of its priority. Its type's bound still holds.
    template <class J>
    void push_front(J job) {
        auto& q = list<J>();
        constexpr JobPolicy p = J::policy;
        if constexpr (p.bound > 0) {
            if (q.size() >= p.bound) {
                ++dropped_;
                return;  // the newer ones are kept: the oldest is the one to lose
            }
        }
        q.push_front(Entry<J>{std::move(job), TimePoint::min(), 0});
    }

    /// Takes the job to run at `now`: the due one of the lowest priority number, the earliest
    /// queued among equals. `stopping`: jobs whose type has skip_at_stop are not taken.
    std::optional<Job> pop(TimePoint now, bool stopping = false) {
        std::optional<Job> out;
        std::size_t best_type = sizeof...(Jobs);
        int best_priority = 0;
        std::uint64_t best_seq = 0;
        for_each([&]<class J>(std::deque<QueuedJob<J>>& q, std::size_t type) {
            constexpr JobPolicy p = J::policy;
            if (q.empty() || q.front().due > now || (stopping && p.skip_at_stop))
                return;
            const std::uint64_t seq = q.front().seq;
            if (best_type == sizeof...(Jobs) || p.priority < best_priority ||
                (p.priority == best_priority && seq < best_seq)) {
                best_type = type;
                best_priority = p.priority;
                best_seq = seq;
            }
        });
        for_each([&]<class J>(std::deque<QueuedJob<J>>& q, std::size_t type) {
            if (type != best_type)
                return;
            out.emplace(std::in_place_type<J>, std::move(q.front().job));
            q.pop_front();
        });
        return out;
    }

    /// When the next job falls due: TimePoint::min() for one due at once, TimePoint::max()
    /// when nothing waits. `stopping` as for pop().
    TimePoint next_due(bool stopping = false) const {
        TimePoint next = TimePoint::max();
        for_each([&]<class J>(const std::deque<QueuedJob<J>>& q, std::size_t) {
            if (!q.empty() && !(stopping && J::policy.skip_at_stop))
                next = std::min(next, q.front().due);
        });
        return next;
    }

    /// Whether a job would still run (`stopping`: leaving out the skip_at_stop types).
    bool empty(bool stopping = false) const { return next_due(stopping) == TimePoint::max(); }

    template <class J>
    std::size_t count() const {
        return std::get<std::deque<Entry<J>>>(lists_).size();
    }

    /// Drops every waiting job of one type (a poll that no longer applies).
    template <class J>
    void clear() {
        list<J>().clear();
    }

    /// Jobs dropped by a bound since the start.
    std::uint64_t dropped() const { return dropped_; }

  private:
    template <class J>
    using Entry = QueuedJob<J>;

    template <class J>
    std::deque<Entry<J>>& list() {
        static_assert((std::is_same_v<J, Jobs> || ...), "not a job type of this queue");
        return std::get<std::deque<Entry<J>>>(lists_);
    }
    template <class F>
    void for_each(F&& f) {
        [&]<std::size_t... I>(std::index_sequence<I...>) {
            (f(std::get<I>(lists_), I), ...);
        }
        (std::index_sequence_for<Jobs...>{});
    }
    template <class F>
    void for_each(F&& f) const {
        [&]<std::size_t... I>(std::index_sequence<I...>) {
            (f(std::get<I>(lists_), I), ...);
        }
        (std::index_sequence_for<Jobs...>{});
    }

    std::tuple<std::deque<Entry<Jobs>>...> lists_;
    std::uint64_t seq_{0};
    std::uint64_t dropped_{0};
};

}  // namespace af::db
