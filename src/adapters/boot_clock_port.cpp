#include "af/adapters/boot_clock_port.hpp"

#include "af/util/boot_timer.hpp"

namespace af::adapters {

namespace {

class BootTimerPort : public ports::Timer {
  public:
    explicit BootTimerPort(boost::asio::io_context& io) : timer_(io) {}

    void at(TimePoint when, std::function<void()> fire) override {
        // expires_at aborts the pending wait: its handler sees operation_aborted and drops the
        // old callback.
        timer_.expires_at(when);
        timer_.async_wait([fire = std::move(fire)](const boost::system::error_code& ec) {
            if (!ec)
                fire();
        });
    }
    void cancel() override { timer_.cancel(); }

  private:
    BootTimer timer_;
};

}  // namespace

TimePoint BootClockPort::now() const {
    return boot_clock::now();
}

std::unique_ptr<ports::Timer> BootClockPort::timer() {
    return std::make_unique<BootTimerPort>(io_);
}

}  // namespace af::adapters
