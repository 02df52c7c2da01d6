#pragma once

#include <sys/types.h>

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "af/config/config.hpp"
#include "af/proc/spawn.hpp"

namespace af::health {

/// One kind of health check. run() starts one check and calls `done` exactly once, on the
/// io_context, within the configured timeout.
class HealthCheck {
  public:
    using Done = std::function<void(bool ok, const std::string& why)>;
    virtual ~HealthCheck() = default;
    /// `process_started` is the wall-clock start of the checked process (for airflow-db).
    virtual void run(std::chrono::system_clock::time_point process_started, Done done) = 0;
    /// A reaped child: true if it was this check's (command checks).
    virtual bool on_reaped(pid_t, int) { return false; }
};

/// The check `c` describes (by its kind: c.check). `context` is how the checked process itself
/// is started (user, group, cwd, environment): a `command` check runs in it, so that e.g.
/// `airflow jobs check` finds AIRFLOW_HOME and the database connection the process has.
std::unique_ptr<HealthCheck> make_check(boost::asio::io_context& io, const config::HealthConfig& c,
                                        const proc::SpawnSpec& context);

// One per kind (airflow_db_check.cpp, http_check.cpp, command_check.cpp); `timeout` is the
// configured one, within which run() calls done.
std::unique_ptr<HealthCheck> make_check(boost::asio::io_context& io,
                                        const config::AirflowDbHealth& c, Duration timeout);
std::unique_ptr<HealthCheck> make_check(boost::asio::io_context& io, const config::HttpHealth& c,
                                        Duration timeout);
std::unique_ptr<HealthCheck> make_check(boost::asio::io_context& io, const config::CommandHealth& c,
                                        Duration timeout, const proc::SpawnSpec& context);

}  // namespace af::health
