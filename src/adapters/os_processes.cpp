#include "af/adapters/os_processes.hpp"

#include <signal.h>

#include <algorithm>

namespace af::adapters {

OsProcesses::OsProcesses(boost::asio::io_context& io,
                         const std::vector<config::ProcessConfig>& procs, proc::ChildEnv base_env)
    : supervisor_(
          io, procs, base_env,
          [this](const std::string& name, const std::string& how) {
              emit(core::ev::process_exited{name, how});
          },
          [this](const std::string& name, const std::string& why) {
              emit(core::ev::process_unhealthy{name, why});
          }) {
    if (std::none_of(procs.begin(), procs.end(), [](const auto& p) { return p.warm_enabled(); }))
        return;
    warm_ = std::make_unique<proc::WarmPool>(
        io, procs, std::move(base_env),
        [this](const std::string& name) { emit(core::ev::warm_ready{name}); },
        [this](const std::string& name, const std::string& how) {
            emit(core::ev::warm_exited{name, how});
        },
        [this](const std::string& name, const std::string& why) {
            emit(core::ev::warm_stale{name, why});
        });
}

OsProcesses::~OsProcesses() = default;

void OsProcesses::start(const std::string& name, std::int64_t term) {
    supervisor_.start(name, term);
}

bool OsProcesses::go_warm(const std::string& name, std::int64_t term) {
    const pid_t pid = warm_ ? warm_->go(name, term) : 0;
    if (pid <= 0)
        return false;
    supervisor_.adopt(name, pid, term);
    return true;
}

void OsProcesses::signal(const std::string& name, ports::ProcSignal s) {
    static constexpr int sigs[] = {SIGTERM, SIGKILL, SIGSTOP, SIGCONT};
    supervisor_.signal(name, sigs[static_cast<int>(s)]);
}

void OsProcesses::warm_start(const std::string& name) {
    if (warm_)
        warm_->start(name);
}

void OsProcesses::warm_stop(const std::string& name) {
    if (warm_)
        warm_->stop(name);
}

void OsProcesses::warm_all_stale(const std::string& why) {
    if (warm_)
        warm_->all_stale(why);
}

bool OsProcesses::set_health_limits(const std::string& name, const config::HealthConfig& h) {
    return supervisor_.set_health_limits(name, h);
}

void OsProcesses::shutdown() {
    if (warm_)
        warm_->shutdown();
}

std::optional<std::vector<ports::WarmStatus>> OsProcesses::describe_warm() const {
    if (!warm_)
        return std::nullopt;
    return warm_->describe();
}

bool OsProcesses::on_reaped(pid_t pid, int status) {
    if (warm_ && warm_->on_reaped(pid, status))
        return true;
    return supervisor_.on_reaped(pid, status);
}

}  // namespace af::adapters
