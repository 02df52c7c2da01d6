#pragma once

#include <sys/types.h>

#include <boost/asio/io_context.hpp>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "af/config/config.hpp"
#include "af/ports/clock.hpp"
#include "af/ports/process_control.hpp"
#include "af/proc/managed_process.hpp"
#include "af/proc/process_os.hpp"

namespace af::adapters {

/// The ProcessControl port: one proc::ManagedProcess per configured process, each owning its
/// running child and its warm copy, on the operating system (`os`) and the Clock port.
class OsProcesses : public ports::ProcessControl {
  public:
    /// Production: the operating system itself, on `io`.
    OsProcesses(boost::asio::io_context& io, ports::Clock& clock,
                const std::vector<config::ProcessConfig>& procs, const proc::ChildEnv& base_env);
    /// Tests: a fake operating system.
    OsProcesses(std::unique_ptr<proc::ProcessOs> os, ports::Clock& clock,
                const std::vector<config::ProcessConfig>& procs, const proc::ChildEnv& base_env);
    ~OsProcesses() override;

    void listen(ports::EventSink sink) override { sink_ = std::move(sink); }
    void start(const std::string& name, std::int64_t term) override;
    bool go_warm(const std::string& name, std::int64_t term) override;
    void signal(const std::string& name, ports::ProcSignal s) override;
    void warm_start(const std::string& name) override;
    void warm_stop(const std::string& name) override;
    void warm_all_stale(const std::string& why) override;
    bool set_health_limits(const std::string& name, const config::HealthConfig& h) override;
    void shutdown() override;
    std::vector<pid_t> groups() const override;
    bool any_down() const override;
    std::vector<ports::ProcessStatus> describe() const override;
    std::optional<std::vector<ports::WarmStatus>> describe_warm() const override;

    /// A reaped child: true if it was a managed process, a warm copy or a health check's.
    bool on_reaped(pid_t pid, int status);

  private:
    proc::ManagedProcess* find(const std::string& name) const;

    std::unique_ptr<proc::ProcessOs> os_;
    ports::EventSink sink_;
    std::map<std::string, std::unique_ptr<proc::ManagedProcess>> procs_;  ///< by name
    bool any_warm_{false};  ///< some process opted in: the node row lists warm copies
};

}  // namespace af::adapters
