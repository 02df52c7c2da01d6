// GET a URL with a deadline; healthy on a 2xx status.
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>
#include <istream>

#include "af/health/health_check.hpp"
#include "af/health/http_url.hpp"

namespace af::health {

namespace {

using boost::asio::ip::tcp;

using Url = HttpUrl;

Url parse(const std::string& url) {
    // Validated by check-config and the config (an http:// URL); a URL that still does not parse
    // fails every check with the reason rather than being guessed at.
    std::string why;
    if (auto u = parse_http_url(url, &why))
        return *u;
    throw std::invalid_argument("processes[].health.url: " + why);
}

/// One request; owns its socket and timer and keeps itself alive until done.
struct Request : std::enable_shared_from_this<Request> {
    Request(boost::asio::io_context& io, Url u, HealthCheck::Done d)
        : resolver(io), socket(io), timer(io), url(std::move(u)), done(std::move(d)) {}

    void start(Duration timeout) {
        auto self = shared_from_this();
        timer.expires_after(timeout);
        timer.async_wait([self](const boost::system::error_code& ec) {
            if (!ec)
                self->finish(false, "no answer within the timeout");
        });
        resolver.async_resolve(url.host, url.port, [self](auto ec, const auto& results) {
            if (ec)
                return self->finish(false, "cannot resolve " + self->url.host);
            boost::asio::async_connect(self->socket, results, [self](auto ec2, const auto&) {
                if (ec2)
                    return self->finish(false, "connect: " + ec2.message());
                self->request = "GET " + self->url.path +
                                " HTTP/1.0\r\nHost: " + self->url.host_header() +
                                "\r\nUser-Agent: airflow-failover\r\n\r\n";
                boost::asio::async_write(
                    self->socket, boost::asio::buffer(self->request), [self](auto ec3, auto) {
                        if (ec3)
                            return self->finish(false, "send: " + ec3.message());
                        boost::asio::async_read_until(
                            self->socket, self->reply, "\r\n", [self](auto ec4, auto) {
                                if (ec4)
                                    return self->finish(false, "read: " + ec4.message());
                                std::istream in(&self->reply);
                                std::string version;
                                int status = 0;
                                in >> version >> status;
                                self->finish(status >= 200 && status < 300,
                                             "HTTP status " + std::to_string(status));
                            });
                    });
            });
        });
    }

    void finish(bool ok, const std::string& why) {
        if (finished)
            return;
        finished = true;
        timer.cancel();
        boost::system::error_code ignored;
        socket.close(ignored);
        resolver.cancel();
        done(ok, why);
    }

    tcp::resolver resolver;
    tcp::socket socket;
    boost::asio::steady_timer timer;
    Url url;
    HealthCheck::Done done;
    std::string request;
    boost::asio::streambuf reply;
    bool finished{false};
};

class HttpCheck final : public HealthCheck {
  public:
    HttpCheck(boost::asio::io_context& io, const config::HttpHealth& c, Duration timeout)
        : io_(io), url_(parse(c.url)), timeout_(timeout) {}
    void run(std::chrono::system_clock::time_point, Done done) override {
        std::make_shared<Request>(io_, url_, std::move(done))->start(timeout_);
    }

  private:
    boost::asio::io_context& io_;
    Url url_;
    Duration timeout_;
};

}  // namespace

std::unique_ptr<HealthCheck> make_check(boost::asio::io_context& io, const config::HttpHealth& c,
                                        Duration timeout) {
    return std::make_unique<HttpCheck>(io, c, timeout);
}

}  // namespace af::health
