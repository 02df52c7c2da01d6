#pragma once

#include <cstdint>
#include <string>

#include "af/db/job_queue.hpp"
#include "af/db/mailbox.hpp"
#include "af/db/node_report.hpp"

namespace af::db::job {

/// The order in which the main connection serves its work. The lease comes first: a late
/// acquire or release changes who runs the scheduler. The node row next (a newer one replaces a
/// waiting one), then answers to operator commands (a client waits for them), then the polls
/// when they fall due, and the event log last: it can wait, and it is never lost while the
/// connection is down (up to a bound).
namespace prio {
enum : int { lease = 0, report = 1, command = 2, poll = 3, log = 4 };
}

/// The events kept while the database is away; beyond it the oldest are dropped (and counted).
inline constexpr std::size_t k_max_queued_records = 10000;

/// Lease statements. Without a connection they fail at once (the core decides what that means).
struct Acquire {
    static constexpr JobPolicy policy{prio::lease, Merge::keep_old};  ///< a queued one answers both
    std::int64_t min_term;
};
struct Release {
    static constexpr JobPolicy policy{prio::lease};
    std::int64_t term;
    std::string reserved_for;
};

/// This node's row. Without a connection it is dropped: a newer one will come.
struct Publish {
    static constexpr JobPolicy policy{prio::report, Merge::replace};
    NodeReport report;
};

/// An operator command's result. Kept while the connection is down.
struct FinishCommand {
    static constexpr JobPolicy policy{prio::command};
    std::int64_t id;
    std::string result;
};

/// Polls: the pause row (every k_pause_check, or at once on NOTIFY) and, while active, the
/// commands table (every 2 s, on NOTIFY, or when a scheduled switchover falls due). Not run
/// while stopping, and dropped without a connection (connecting schedules them again).
struct CheckPause {
    static constexpr JobPolicy policy{prio::poll, Merge::earliest, 0, true};
};
struct CheckCommands {
    static constexpr JobPolicy policy{prio::poll, Merge::earliest, 0, true};
};

/// A row of the events log. Kept while the connection is down, up to the bound.
struct Record {
    static constexpr JobPolicy policy{prio::log, Merge::keep_all, k_max_queued_records};
    std::string kind, detail;
    std::int64_t term;
};

using Inbox = Mailbox<Acquire, Release, Publish, FinishCommand, CheckPause, CheckCommands, Record>;

}  // namespace af::db::job
