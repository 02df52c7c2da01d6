#include "af/health/health_check.hpp"

namespace af::health {

namespace {
template <class... F>
struct overloaded : F... {
    using F::operator()...;
};
template <class... F>
overloaded(F...) -> overloaded<F...>;
}  // namespace

std::unique_ptr<HealthCheck> make_check(boost::asio::io_context& io, const config::HealthConfig& c,
                                        const proc::SpawnSpec& context) {
    // One overload per kind of check: a new kind without one does not compile.
    return std::visit(overloaded{[&](const config::CommandHealth& k) {
                                     return make_check(io, k, c.timeout, context);
                                 },
                                 [&](const auto& k) { return make_check(io, k, c.timeout); }},
                      c.check);
}

}  // namespace af::health
