#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/system/error_code.hpp>
#include <functional>

#include "af/util/boot_clock.hpp"

namespace af {

/// Timers that wait on CLOCK_BOOTTIME itself, through a timerfd armed with an absolute instant.
/// Asio's timers (and poll's timeout) sleep a duration measured on CLOCK_MONOTONIC, which stops
/// while the host is suspended: a fencing deadline due during a suspend would fire up to one
/// interval late after the resume. A boot-clock timerfd fires as soon as the host resumes past
/// the deadline.
namespace timerfd {

/// A non-blocking, close-on-exec timerfd on CLOCK_BOOTTIME; throws std::system_error.
int create();
/// Arms `fd` to fire at `at` on the boot clock; an instant already past fires at once.
void arm_at(int fd, TimePoint at);
void disarm(int fd);
/// Reads the expiration count; true if the timer fired since it was last armed or read.
bool consume(int fd);

}  // namespace timerfd

/// The subset of asio::basic_waitable_timer that the daemon uses, on a boot-clock timerfd:
/// expires_at/expires_after cancel a pending wait (its handler gets operation_aborted), as
/// Asio's timers do.
class BootTimer {
  public:
    using Handler = std::function<void(const boost::system::error_code&)>;

    explicit BootTimer(boost::asio::io_context& io);
    BootTimer(const BootTimer&) = delete;
    BootTimer& operator=(const BootTimer&) = delete;

    void expires_at(TimePoint at);
    void expires_after(Duration d) { expires_at(boot_clock::now() + d); }
    void async_wait(Handler h);
    void cancel();

  private:
    boost::asio::posix::stream_descriptor fd_;
};

}  // namespace af
