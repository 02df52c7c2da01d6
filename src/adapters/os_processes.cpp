#include "af/adapters/os_processes.hpp"

#include <algorithm>

namespace af::adapters {

OsProcesses::OsProcesses(boost::asio::io_context& io, ports::Clock& clock,
                         const std::vector<config::ProcessConfig>& procs,
                         const proc::ChildEnv& base_env)
    : OsProcesses(proc::make_process_os(io), clock, procs, base_env) {}

OsProcesses::OsProcesses(std::unique_ptr<proc::ProcessOs> os, ports::Clock& clock,
                         const std::vector<config::ProcessConfig>& procs,
                         const proc::ChildEnv& base_env)
    : os_(std::move(os)) {
    for (const auto& p : procs) {
        any_warm_ = any_warm_ || p.warm_enabled();
        procs_[p.name] =
            std::make_unique<proc::ManagedProcess>(p, base_env, *os_, clock, [this](core::Event e) {
                if (sink_)
                    sink_(std::move(e));
            });
    }
}

OsProcesses::~OsProcesses() = default;

proc::ManagedProcess* OsProcesses::find(const std::string& name) const {
    auto it = procs_.find(name);
    return it == procs_.end() ? nullptr : it->second.get();
}

void OsProcesses::start(const std::string& name, std::int64_t term) {
    if (auto* p = find(name))
        p->start(term);
}

bool OsProcesses::go_warm(const std::string& name, std::int64_t term) {
    auto* p = find(name);
    return p && p->go_warm(term);
}

void OsProcesses::signal(const std::string& name, ports::ProcSignal s) {
    if (auto* p = find(name))
        p->signal(s);
}

void OsProcesses::warm_start(const std::string& name) {
    if (auto* p = find(name))
        p->warm_start();
}

void OsProcesses::warm_stop(const std::string& name) {
    if (auto* p = find(name))
        p->warm_stop();
}

void OsProcesses::warm_all_stale(const std::string& why) {
    for (auto& [name, p] : procs_)
        p->warm_stale(why);
}

bool OsProcesses::set_health_limits(const std::string& name, const config::HealthConfig& h) {
    auto* p = find(name);
    return p && p->set_health_limits(h);
}

void OsProcesses::shutdown() {
    for (auto& [name, p] : procs_)
        p->shutdown();
}

std::vector<pid_t> OsProcesses::groups() const {
    std::vector<pid_t> g;
    for (const auto& [name, p] : procs_)
        if (p->group() > 0)
            g.push_back(p->group());
    return g;
}

bool OsProcesses::any_down() const {
    return std::any_of(procs_.begin(), procs_.end(),
                       [](const auto& kv) { return kv.second->down(); });
}

std::vector<ports::ProcessStatus> OsProcesses::describe() const {
    std::vector<ports::ProcessStatus> out;
    for (const auto& [name, p] : procs_)
        out.push_back(p->describe());
    return out;
}

std::optional<std::vector<ports::WarmStatus>> OsProcesses::describe_warm() const {
    if (!any_warm_)
        return std::nullopt;
    std::vector<ports::WarmStatus> out;
    for (const auto& [name, p] : procs_)
        if (auto w = p->describe_warm())
            out.push_back(std::move(*w));
    return out;
}

bool OsProcesses::on_reaped(pid_t pid, int status) {
    return std::any_of(procs_.begin(), procs_.end(),
                       [&](const auto& kv) { return kv.second->on_reaped(pid, status); });
}

}  // namespace af::adapters
