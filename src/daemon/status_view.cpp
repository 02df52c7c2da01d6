#include "af/daemon/status_view.hpp"

#include <algorithm>
#include <chrono>

#include "af/core/pause.hpp"

namespace af::daemon {

namespace {

std::string role_words(const StatusView& v) {
    const std::string term = std::to_string(v.term);
    switch (v.role) {
        case core::Role::active:
            return "active in term " + term + ", running " + std::to_string(v.running) + " of " +
                   std::to_string(v.configured) + " process(es)";
        case core::Role::stopping:
            return v.term ? "stopping: handing over term " + term : "stopping";
        case core::Role::stopped:
            return "stopped";
        case core::Role::nofailover:
            return v.seen_active ? "nofailover (never takes over); " + v.seen_active->node +
                                       " is active in term " + std::to_string(v.seen_active->term)
                                 : "nofailover (never takes over); no active node seen";
        case core::Role::standby:
            break;
    }
    if (!v.db_connected)
        return "standby; database unreachable, cannot become active";
    if (v.seen_active)
        return "standby; " + v.seen_active->node + " is active in term " +
               std::to_string(v.seen_active->term);
    return "standby; no active node seen";
}

std::string status_words(const core::Election& core, const StatusView& v) {
    if (!core.paused())
        return role_words(v);
    // Loud: with nobody active while paused, nobody will take over until resume.
    const std::string words = core::describe_pause(core.pause()) + "; ";
    if (v.role == core::Role::standby && !v.seen_active_current)
        return words + "NO ACTIVE NODE and nobody takes over until resume";
    return words + role_words(v);
}

}  // namespace

net::WireRole StatusView::wire_role() const {
    switch (role) {
        case core::Role::active:
            return net::WireRole::active;
        case core::Role::stopping:
            return net::WireRole::stopping;
        default:
            return net::WireRole::standby;
    }
}

Duration StatusView::lease_remaining(TimePoint now) const {
    if (role != core::Role::active)
        return Duration{0};
    return std::max(Duration{0}, std::chrono::duration_cast<Duration>(lease_deadline - now));
}

StatusView compute_status(const core::Election& core, TimePoint now, StatusInputs in) {
    StatusView v;
    v.at = now;
    v.role = core.role();
    v.term = core.term();
    v.lease_deadline = core.lease_deadline();
    v.paused = core.paused();
    v.db_connected = in.db_connected;
    v.running = in.running;
    v.configured = in.configured;
    v.processes_down = in.processes_down;
    v.seen_active_current = in.seen_active && now < in.seen_active->until;
    v.seen_active = std::move(in.seen_active);
    v.fit = v.role == core::Role::active ? !v.processes_down
                                         : v.role == core::Role::standby && v.db_connected;
    v.healthy_until = in.healthy_until;
    v.words = status_words(core, v);
    return v;
}

}  // namespace af::daemon
