// Maintenance mode in the election core (docs/operations.md, "Maintenance mode"). The rest of
// the core asks paused() where it would take the lease, start or restart a process, kill one
// for failing its health check, or hand the lease over; the lease deadline is never paused.
#include "af/core/pause.hpp"
#include "af/core/election.hpp"

namespace af::core {

void Election::on(const ev::paused& e) {
    const bool was = paused();
    pause_ = e;
    // The expiry is counted on the database clock; here it becomes a local instant, read when
    // the row was, so it can only come a little late (by the read's latency), never early.
    pause_until_ = !e.on ? TimePoint{} : e.expires ? now_ + e.remaining : TimePoint::max();
    if (was && !paused() && term_.id == 0) {
        // Resumed: a free lease is taken at once, best standby first, as after a release.
        watch_holder_.reset();
        next_acquire_ = now_ + cfg_.rank_delay * rank();
    }
}

void Election::check_pause_expiry() {
    if (pause_.on && now_ >= pause_until_) {
        pause_ = ev::paused{};
        pause_until_ = TimePoint{};
        note(EventKind::pause_expired,
             "maintenance mode ended at its expiry; failover is on again");
        if (term_.id == 0) {
            watch_holder_.reset();
            next_acquire_ = now_ + cfg_.rank_delay * rank();
        }
    }
}

std::string Election::refused_while_paused() const {
    if (!paused())
        return "";
    return "refused: the cluster is paused (by " + pause_.by +
           (pause_.reason.empty() ? "" : ": " + pause_.reason) + "); resume it first";
}

std::string describe_pause(const ev::paused& p) {
    if (!p.on)
        return "not paused";
    std::string s = "PAUSED by " + p.by;
    if (!p.reason.empty())
        s += " (" + p.reason + ")";
    if (p.stop_processes)
        s += ", processes stopped";
    // No countdown: the line is only sent when it changes (status shows the expiry time).
    s += p.expires ? ", until resume or its expiry" : ", until resume";
    return s;
}

}  // namespace af::core
