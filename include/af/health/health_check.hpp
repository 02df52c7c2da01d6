#pragma once

#include <sys/types.h>

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "af/config/config.hpp"

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

/// The check `c` describes (by its kind: c.check).
std::unique_ptr<HealthCheck> make_check(boost::asio::io_context& io, const config::HealthConfig& c);

// One per kind (airflow_db_check.cpp, http_check.cpp, command_check.cpp); `timeout` is the
// configured one, within which run() calls done.
std::unique_ptr<HealthCheck> make_check(boost::asio::io_context& io,
                                        const config::AirflowDbHealth& c, Duration timeout);
std::unique_ptr<HealthCheck> make_check(boost::asio::io_context& io, const config::HttpHealth& c,
                                        Duration timeout);
std::unique_ptr<HealthCheck> make_check(boost::asio::io_context& io, const config::CommandHealth& c,
                                        Duration timeout);

}  // namespace af::health
