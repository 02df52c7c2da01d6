// ConnectionWorker, the piece the main connection and each renewal lane share, against a real
// loopback TCP listener that is not PostgreSQL (every open fails after the TCP handshake, which
// the listener sees): a lane opens only when a job asks for it (a standby holds no renewal
// connection), the main connection opens at start and retries while idle, and a failed open
// waits for the backoff instead of trying again at once.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <system_error>

#include "af/db/connection_worker.hpp"

namespace {

using namespace std::chrono_literals;

/// A listening socket on 127.0.0.1 that counts the connections made to it and closes each at
/// once (libpq then fails the open: the server closed the connection).
class Listener {
  public:
    Listener() : fd_(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
        if (fd_ < 0)
            throw std::system_error(errno, std::generic_category(), "socket");
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof a;
        if (::bind(fd_, reinterpret_cast<sockaddr*>(&a), len) != 0 || ::listen(fd_, 16) != 0 ||
            ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0)
            throw std::system_error(errno, std::generic_category(), "bind/listen");
        port_ = ntohs(a.sin_port);
    }
    ~Listener() { ::close(fd_); }
    Listener(const Listener&) = delete;
    Listener& operator=(const Listener&) = delete;

    std::string conninfo() const {
        // No SSL or GSS attempt first: libpq would open a second connection after one refused.
        return "host=127.0.0.1 port=" + std::to_string(port_) +
               " dbname=none user=none sslmode=disable gssencmode=disable";
    }
    /// Accepts (and closes) the connections that arrive within `for_`; returns how many.
    int accepted_within(std::chrono::milliseconds for_) {
        int n = 0;
        const auto end = std::chrono::steady_clock::now() + for_;
        for (;;) {
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                end - std::chrono::steady_clock::now());
            if (left <= 0ms)
                return n;
            pollfd p{fd_, POLLIN, 0};
            if (::poll(&p, 1, static_cast<int>(left.count())) == 1) {
                const int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
                if (c >= 0) {
                    ::close(c);
                    ++n;
                }
            }
        }
    }

  private:
    int fd_;
    std::uint16_t port_{0};
};

struct Open {
    static constexpr af::db::JobPolicy policy{0};
};
using Worker = af::db::ConnectionWorker<Open>;

af::db::ConnectionSettings settings(const Listener& l, bool main) {
    return {l.conninfo(), af::Duration{2000}, af::Duration{1000}, af::db::TcpTuning{}, main};
}

TEST(ConnectionWorker, ALaneOpensOnlyWhenAJobAsks) {
    Listener l;
    std::atomic<int> failed{0};
    std::string first_error;
    std::string second_error;
    Worker* self = nullptr;
    Worker w(settings(l, false), {[&](Worker::Job&) {
                                      // Two opens in a row: the second waits for the backoff.
                                      if (!self->connect())
                                          first_error = self->error();
                                      if (!self->connect())
                                          second_error = self->error();
                                      ++failed;
                                  },
                                  {},
                                  {}});
    self = &w;
    w.start();
    EXPECT_EQ(l.accepted_within(500ms), 0) << "a lane with no work must hold no connection";
    w.inbox().push(Open{});
    EXPECT_EQ(l.accepted_within(1000ms), 1) << "one open for the job, none for the retry";
    w.stop(af::TimePoint::min());
    w.join();
    EXPECT_EQ(failed.load(), 1);
    EXPECT_FALSE(w.connected());
    EXPECT_FALSE(first_error.empty());
    EXPECT_EQ(first_error.find("backing off"), std::string::npos) << first_error;
    EXPECT_NE(second_error.find("backing off"), std::string::npos) << second_error;
}

TEST(ConnectionWorker, TheMainConnectionOpensAtStartAndRetriesWithBackoff) {
    Listener l;
    Worker w(settings(l, true), {[](Worker::Job&) {}, {}, {}});
    w.start();
    // Tries at about 0, 200, 400 and 800 ms (the backoff's 100, 200, 400, 800 ms, rounded up to
    // the 200 ms idle retry), the next at 1.6 s; without the backoff one every 200 ms (7 or 8).
    const int n = l.accepted_within(1500ms);
    w.stop(af::TimePoint::min());
    w.join();
    EXPECT_GE(n, 2) << "opens at start, and tries again while idle";
    EXPECT_LE(n, 5) << "the idle retry keeps the backoff";
    EXPECT_FALSE(w.connected());
}

}  // namespace
