// The daemon's side of the warm standby (docs/warm-standby.md): a WarmPool wired to the core.
#include <spdlog/spdlog.h>

#include <algorithm>

#include "af/daemon/daemon.hpp"

namespace af::daemon {

void Daemon::make_warm_pool() {
    if (std::none_of(cfg_.processes.begin(), cfg_.processes.end(),
                     [](const auto& p) { return p.warm_enabled(); }))
        return;
    warm_ = std::make_unique<proc::WarmPool>(
        io_, cfg_.processes,
        std::map<std::string, std::string>{{"AIRFLOW_FAILOVER_NODE", cfg_.node_id},
                                           {"AIRFLOW_FAILOVER_CLUSTER", cfg_.cluster}},
        [this](const std::string& name) { feed(core::ev::warm_ready{name}); },
        [this](const std::string& name, const std::string& how) {
            feed(core::ev::warm_exited{name, how});
        },
        [this](const std::string& name, const std::string& why) {
            feed(core::ev::warm_stale{name, why});
        });
}

void Daemon::start_process(const std::string& name, std::int64_t term, bool warm) {
    auto [it, fresh] = started_in_term_.try_emplace(name, term);
    const bool restart = !fresh && it->second == term;
    it->second = term;
    if (metrics_)
        metrics_->process_started(name, restart);
    const pid_t pid = warm && warm_ ? warm_->go(name, term) : 0;
    if (pid > 0)
        supervisor_.adopt(name, pid, term);
    else
        supervisor_.start(name, term);
}

void Daemon::execute_warm(const core::Action& action) {
    if (const auto* s = std::get_if<core::act::warm_start>(&action)) {
        if (warm_)
            warm_->start(s->name);
    } else if (const auto* g = std::get_if<core::act::warm_go>(&action)) {
        start_process(g->name, g->term, true);
    } else if (const auto* x = std::get_if<core::act::warm_stop>(&action)) {
        if (warm_)
            warm_->stop(x->name);
    }
}

}  // namespace af::daemon
