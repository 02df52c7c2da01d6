#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace af::metrics {

/// A small HTTP/1.1 server on Boost.Beast and the daemon's own io_context (no thread of its
/// own): GET (or HEAD) of a few fixed paths, one request per connection, then close. It serves
/// /metrics and /healthz on one port. Being on the same loop is the point for /healthz: a loop that
/// is stuck cannot answer, so a load balancer sees a timeout, never a stale 200.
///
/// Limits: requests over 8 KiB are refused with 431, a client gets 5 s to send its request
/// and to read the answer, and at most 64 connections are open at once: at the limit a new
/// connection closes the oldest one that has not sent its request yet, so idle connections
/// cannot starve /healthz. A failing accept (EMFILE: out of descriptors) is retried every
/// 100 ms, not at once, so it cannot spin the loop the election runs on.
class HttpServer {
  public:
    struct Response {
        int status{200};
        std::string content_type{"text/plain; charset=utf-8"};
        std::string body;
    };
    using Handler = std::function<Response()>;

    HttpServer(boost::asio::io_context& io, std::map<std::string, Handler> routes);
    ~HttpServer();

    /// Binds and listens; throws config::ConfigError naming metrics.listen on failure.
    void start(const std::string& host, unsigned short port);
    void stop();
    /// The port actually bound (useful with port 0).
    unsigned short port() const;

  private:
    struct Session;
    void do_accept();
    void make_room();

    boost::asio::ip::tcp::acceptor acceptor_;
    boost::asio::steady_timer accept_backoff_;  ///< after a failed accept (out of descriptors)
    bool accept_failing_{false};                ///< logged once per run of failures
    std::map<std::string, Handler> routes_;
    std::vector<std::weak_ptr<Session>> sessions_;  ///< in accept order
    int open_{0};
    bool stopped_{false};
};

}  // namespace af::metrics
