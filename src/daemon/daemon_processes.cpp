// The daemon's process actions: start (cold or from a warm copy), stop, kill, freeze, thaw.
#include <spdlog/spdlog.h>

#include "af/daemon/daemon.hpp"
#include "af/metrics/metrics.hpp"

namespace af::daemon {

void Daemon::start_process(const std::string& name, std::int64_t term, bool warm) {
    auto [it, fresh] = started_in_term_.try_emplace(name, term);
    const bool restart = !fresh && it->second == term;
    it->second = term;
    if (x_.metrics)
        x_.metrics->process_started(name, restart);
    if (!(warm && p_.processes.go_warm(name, term)))
        p_.processes.start(name, term);
}

void Daemon::execute_process(const core::Action& action) {
    using ports::ProcSignal;
    auto& procs = p_.processes;
    if (const auto* s = std::get_if<core::act::start_process>(&action)) {
        start_process(s->name, s->term, false);
    } else if (const auto* g = std::get_if<core::act::warm_go>(&action)) {
        start_process(g->name, g->term, true);
    } else if (const auto* w = std::get_if<core::act::warm_start>(&action)) {
        procs.warm_start(w->name);
    } else if (const auto* x = std::get_if<core::act::warm_stop>(&action)) {
        procs.warm_stop(x->name);
    } else if (const auto* st = std::get_if<core::act::stop_process>(&action)) {
        spdlog::info("stopping {} (SIGTERM to its process group)", st->name);
        procs.signal(st->name, ProcSignal::stop);
    } else if (const auto* f = std::get_if<core::act::freeze_process>(&action)) {
        spdlog::warn("freezing {} (SIGSTOP to its session): a renewal is late", f->name);
        procs.signal(f->name, ProcSignal::freeze);
    } else if (const auto* t = std::get_if<core::act::thaw_process>(&action)) {
        spdlog::info("thawing {} (SIGCONT to its session)", t->name);
        procs.signal(t->name, ProcSignal::thaw);
    } else if (const auto* k = std::get_if<core::act::kill_process>(&action)) {
        spdlog::warn("killing {} (SIGKILL to its process group)", k->name);
        procs.signal(k->name, ProcSignal::kill);
    } else {
        // Every action kind is handled somewhere in the executor: a new one must be added.
        spdlog::critical("unhandled election action (index {})", action.index());
        std::abort();
    }
}

}  // namespace af::daemon
