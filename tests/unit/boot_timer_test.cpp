// Timers on the boot clock: absolute deadlines on CLOCK_BOOTTIME (which counts through a
// suspend), with Asio timer semantics for the daemon's loop. A real suspend cannot be produced
// in a test; what can be checked is that the kernel holds the deadline on CLOCK_BOOTTIME as an
// absolute instant (an instant already past fires at once, as after a resume) and that the
// wrapper behaves like the Asio timer it replaces.
#include <gtest/gtest.h>
#include <poll.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <fstream>
#include <string>

#include "af/util/boot_timer.hpp"

using namespace std::chrono_literals;
using af::boot_clock;
using af::BootTimer;
namespace timerfd = af::timerfd;

namespace {

bool readable(int fd, int wait_ms) {
    pollfd p{fd, POLLIN, 0};
    return poll(&p, 1, wait_ms) == 1;
}

struct Fd {
    int fd{timerfd::create()};
    ~Fd() { close(fd); }
};

}  // namespace

TEST(BootTimerFd, KernelKeepsItOnClockBoottime) {
    Fd t;
    std::ifstream info("/proc/self/fdinfo/" + std::to_string(t.fd));
    std::string line;
    bool found = false;
    while (std::getline(info, line))
        if (line.rfind("clockid:", 0) == 0)
            found = line.find(std::to_string(CLOCK_BOOTTIME)) != std::string::npos;
    EXPECT_TRUE(found) << "timerfd not on CLOCK_BOOTTIME (" << CLOCK_BOOTTIME << ")";
}

TEST(BootTimerFd, AnInstantAlreadyPastFiresAtOnce) {
    // What a host resuming after its deadline sees: the wait ends immediately.
    Fd t;
    timerfd::arm_at(t.fd, boot_clock::now() - 5s);
    ASSERT_TRUE(readable(t.fd, 0));
    EXPECT_TRUE(timerfd::consume(t.fd));
    EXPECT_FALSE(timerfd::consume(t.fd)) << "one expiry, consumed once";
}

TEST(BootTimerFd, TheEpochStandsForAlreadyDue) {
    Fd t;
    timerfd::arm_at(t.fd, af::TimePoint{});
    EXPECT_TRUE(readable(t.fd, 100));
}

TEST(BootTimerFd, FiresNotBeforeItsInstant) {
    Fd t;
    const auto at = boot_clock::now() + 80ms;
    timerfd::arm_at(t.fd, at);
    EXPECT_FALSE(readable(t.fd, 0));
    ASSERT_TRUE(readable(t.fd, 5000));
    EXPECT_GE(boot_clock::now(), at);
    EXPECT_TRUE(timerfd::consume(t.fd));
}

TEST(BootTimerFd, RearmingForgetsAnEarlierExpiry) {
    Fd t;
    timerfd::arm_at(t.fd, boot_clock::now() - 1s);
    ASSERT_TRUE(readable(t.fd, 0));
    timerfd::arm_at(t.fd, boot_clock::now() + 1h);
    EXPECT_FALSE(readable(t.fd, 0));
    timerfd::disarm(t.fd);
    EXPECT_FALSE(timerfd::consume(t.fd));
}

TEST(BootTimer, FiresOnceAtItsDeadline) {
    boost::asio::io_context io;
    BootTimer timer(io);
    const auto at = boot_clock::now() + 30ms;
    int fired = 0;
    timer.expires_at(at);
    timer.async_wait([&](const boost::system::error_code& ec) {
        EXPECT_FALSE(ec);
        EXPECT_GE(boot_clock::now(), at);
        ++fired;
    });
    io.run();
    EXPECT_EQ(fired, 1);
}

TEST(BootTimer, NewExpiryAbortsThePendingWaitLikeAnAsioTimer) {
    boost::asio::io_context io;
    BootTimer timer(io);
    std::vector<std::string> seen;
    timer.expires_after(1h);
    timer.async_wait([&](const boost::system::error_code& ec) {
        seen.push_back(ec == boost::asio::error::operation_aborted ? "aborted" : "fired");
    });
    timer.expires_after(10ms);
    timer.async_wait(
        [&](const boost::system::error_code& ec) { seen.push_back(ec ? "error" : "fired"); });
    io.run();
    EXPECT_EQ(seen, (std::vector<std::string>{"aborted", "fired"}));
}

TEST(BootTimer, CancelAbortsAndDisarms) {
    boost::asio::io_context io;
    BootTimer timer(io);
    bool aborted = false;
    timer.expires_after(10ms);
    timer.async_wait([&](const boost::system::error_code& ec) {
        aborted = ec == boost::asio::error::operation_aborted;
    });
    timer.cancel();
    io.run();
    EXPECT_TRUE(aborted);
}
