// What the daemon notes from an event before the core steps on it: the active node it last read
// (for the status view) and the metrics counted as things happen.
#include <spdlog/spdlog.h>

#include "af/core/pause.hpp"
#include "af/daemon/daemon.hpp"
#include "af/metrics/metrics.hpp"

namespace af::daemon {

void Daemon::observe(const core::Event& e) {
    const TimePoint now = p_.clock.now();
    if (const auto* p = std::get_if<core::ev::paused>(&e)) {
        if (p->on != core_.pause().on)
            spdlog::warn("maintenance mode: {}", p->on ? core::describe_pause(*p) : "resumed");
        if (p->on && !p->lease_holder.empty() && core_.term() == 0)
            seen_active_ = SeenActive{p->lease_holder, p->lease_term, now + p->lease_remaining};
        else if (p->on && core_.term() == 0)
            seen_active_.reset();
    }
    if (const auto* a = std::get_if<core::ev::acquire_result>(&e)) {
        if (!a->won && a->holder && a->remaining.count() > 0)
            seen_active_ = SeenActive{*a->holder, a->term, now + a->remaining};
        else
            seen_active_.reset();
    }
    if (!x_.metrics)
        return;
    if (const auto* r = std::get_if<core::ev::renew_result>(&e)) {
        x_.metrics->observe_renew_latency(std::chrono::duration_cast<Duration>(now - r->sent_at));
    } else if (const auto* f = std::get_if<core::ev::db_failure>(&e)) {
        static const char* ops[] = {"acquire", "renew", "release"};
        x_.metrics->database_error(ops[static_cast<int>(f->op)]);
    } else if (const auto* a = std::get_if<core::ev::acquire_result>(&e); a && a->won) {
        x_.metrics->term_won(a->previous_holder, a->after_switchover);
    } else if (const auto* u = std::get_if<core::ev::process_unhealthy>(&e)) {
        x_.metrics->health_check_failed(u->name);
    }
}

}  // namespace af::daemon
