#include "af/health/health_check.hpp"

namespace af::health {

std::unique_ptr<HealthCheck> make_http_check(boost::asio::io_context&, const config::HealthConfig&);
std::unique_ptr<HealthCheck> make_command_check(boost::asio::io_context&,
                                                const config::HealthConfig&);
std::unique_ptr<HealthCheck> make_airflow_db_check(boost::asio::io_context&,
                                                   const config::HealthConfig&);

std::unique_ptr<HealthCheck> make_check(boost::asio::io_context& io,
                                        const config::HealthConfig& c) {
    if (c.type == "http")
        return make_http_check(io, c);
    if (c.type == "command")
        return make_command_check(io, c);
    return make_airflow_db_check(io, c);
}

}  // namespace af::health
