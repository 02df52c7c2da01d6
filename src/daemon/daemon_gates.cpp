// The daemon's promotion gates and hooks (docs/airflow.md): the Airflow takeover,
// hooks.pre_promote (awaited) and hooks.on_role_change (queued, never awaited).
#include <spdlog/spdlog.h>

#include "af/airflow/takeover_worker.hpp"
#include "af/daemon/daemon.hpp"
#include "af/hooks/hook_runner.hpp"
#include "af/metrics/metrics.hpp"

namespace af::daemon {

namespace {

proc::EnvPolicy hook_env(const config::Config& cfg, const std::string& hook,
                         const std::string& action, const std::string& role, std::int64_t term,
                         const std::string& previous_holder) {
    return proc::ChildEnv(cfg.cluster, cfg.node_id)
        .hook(hook, action, role, term, previous_holder)
        .policy();
}

}  // namespace

void Daemon::execute_gate(const core::Action& action) {
    // The core asks for a gate or hook only when the configuration has it
    // (Config::election()): a missing runner here is a broken invariant, not an expected failure.
    if (const auto* t = std::get_if<core::act::take_over>(&action)) {
        spdlog::info("takeover: closing out the Airflow jobs of {} (term {})", t->previous_holder,
                     t->term);
        if (!x_.takeover) {
            spdlog::critical("take_over asked for, but airflow.takeover is not configured");
            std::abort();
        }
        x_.takeover->take_over(t->term, t->previous_holder);
    } else if (const auto* ct = std::get_if<core::act::cancel_takeover>(&action)) {
        spdlog::warn("takeover: no answer in time, cancelling the statement (term {})", ct->term);
        if (x_.takeover)
            x_.takeover->cancel(ct->term);
    } else if (const auto* pp = std::get_if<core::act::run_pre_promote>(&action)) {
        if (!x_.pre_promote) {
            spdlog::critical("run_pre_promote asked for, but hooks.pre_promote is not set");
            std::abort();
        }
        const std::int64_t term = pp->term;
        x_.pre_promote->enqueue(
            hook_env(cfg_, "pre_promote", "pre_promote", "active", term, pp->previous_holder),
            [this, term](const ports::HookOutcome& o) {
                hook_done("pre_promote", "pre_promote", term, o);
                feed(core::ev::hook_result{term, o.ok(), "pre_promote " + o.detail});
            });
    } else if (const auto* rc = std::get_if<core::act::role_change>(&action)) {
        if (!x_.on_role_change) {
            spdlog::critical("role_change asked for, but hooks.on_role_change is not set");
            std::abort();
        }
        // Queued, never awaited: fencing, takeover and release go on meanwhile.
        x_.on_role_change->enqueue(
            hook_env(cfg_, "on_role_change", to_string(rc->action), to_string(rc->role), rc->term,
                     rc->previous_holder),
            [this, what = std::string(to_string(rc->action)), term = rc->term](
                const ports::HookOutcome& o) { hook_done("on_role_change", what, term, o); });
    }
}

void Daemon::hook_done(const std::string& hook, const std::string& action, std::int64_t term,
                       const ports::HookOutcome& o) {
    if (x_.metrics)
        x_.metrics->hook_run(hook, hooks::to_string(o.kind));
    if (o.ok()) {
        spdlog::info("hook {} ({}, term {}) {}", hook, action, term, o.detail);
        return;
    }
    const std::string kind =
        o.kind == hooks::Outcome::Kind::timed_out ? "hook_timeout" : "hook_failed";
    const std::string detail = hook + " (" + action + "): " + o.detail;
    spdlog::warn("{}: {} (term {})", kind, detail, term);
    if (x_.metrics)
        x_.metrics->event(kind);
    p_.lease.record(kind, detail, term);
}

}  // namespace af::daemon
