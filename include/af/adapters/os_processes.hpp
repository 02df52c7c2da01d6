#pragma once

#include <sys/types.h>

#include <boost/asio/io_context.hpp>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "af/config/config.hpp"
#include "af/ports/process_control.hpp"
#include "af/proc/supervisor.hpp"
#include "af/proc/warm_pool.hpp"

namespace af::adapters {

/// The ProcessControl port over fork/exec: the Supervisor for the managed processes and, when a
/// process opted in, the WarmPool for their warm copies.
class OsProcesses : public ports::ProcessControl {
  public:
    OsProcesses(boost::asio::io_context& io, const std::vector<config::ProcessConfig>& procs,
                proc::ChildEnv base_env);
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
    std::vector<pid_t> groups() const override { return supervisor_.groups(); }
    bool any_down() const override { return supervisor_.any_down(); }
    std::vector<ports::ProcessStatus> describe() const override { return supervisor_.describe(); }
    std::optional<std::vector<ports::WarmStatus>> describe_warm() const override;

    /// A reaped child: true if it was a managed process or a warm copy.
    bool on_reaped(pid_t pid, int status);

  private:
    void emit(core::Event e) {
        if (sink_)
            sink_(std::move(e));
    }

    ports::EventSink sink_;
    proc::Supervisor supervisor_;
    std::unique_ptr<proc::WarmPool> warm_;  ///< only when a process opted in
};

}  // namespace af::adapters
