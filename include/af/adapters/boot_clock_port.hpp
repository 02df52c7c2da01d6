#pragma once

#include <boost/asio/io_context.hpp>

#include "af/ports/clock.hpp"

namespace af::adapters {

/// The Clock port in production: CLOCK_BOOTTIME, and timers on a boot-clock timerfd driven by
/// the io_context (BootTimer), so a deadline due during a suspend fires as the host resumes.
class BootClockPort : public ports::Clock {
  public:
    explicit BootClockPort(boost::asio::io_context& io) : io_(io) {}
    TimePoint now() const override;
    std::unique_ptr<ports::Timer> timer() override;

  private:
    boost::asio::io_context& io_;
};

}  // namespace af::adapters
