#include "af/health/health_check.hpp"

namespace af::health {

std::unique_ptr<HealthCheck> make_check(boost::asio::io_context& io,
                                        const config::HealthConfig& c) {
    // One overload per kind of check: a new kind without one does not compile.
    return std::visit([&](const auto& check) { return make_check(io, check, c.timeout); }, c.check);
}

}  // namespace af::health
