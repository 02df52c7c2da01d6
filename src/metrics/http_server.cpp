#include "af/metrics/http_server.hpp"

#include <fcntl.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string_view>

#include "af/config/config.hpp"

namespace af::metrics {

using boost::asio::ip::tcp;

namespace {
namespace http = boost::beast::http;

constexpr std::uint32_t k_max_request = 8192;
constexpr int k_max_connections = 64;
constexpr int k_backlog = 128;
constexpr auto k_io_timeout = std::chrono::seconds(5);
constexpr std::chrono::milliseconds k_accept_backoff{100};

/// Close-on-exec: the daemon forks managed processes, which must not inherit the listener or a
/// client's connection (Boost.Asio opens and accepts without SOCK_CLOEXEC).
void set_cloexec(int fd) {
    const int flags = fcntl(fd, F_GETFD);
    if (flags >= 0)
        fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
}
}  // namespace

/// One connection: Beast parses the request head, we answer and close. One timer bounds the
/// whole exchange, reading and writing. Keeps itself alive through shared_ptr.
struct HttpServer::Session : std::enable_shared_from_this<HttpServer::Session> {
    Session(HttpServer& srv, tcp::socket s)
        : server(srv), socket(std::move(s)), timer(socket.get_executor()), buf(k_max_request) {
        parser.header_limit(k_max_request);
    }

    void start() {
        ++server.open_;
        auto self = shared_from_this();
        timer.expires_after(k_io_timeout);
        timer.async_wait([self](const boost::system::error_code& ec) {
            if (!ec)
                self->close();
        });
        // The head only: a body (there should be none) is never read, the answer closes.
        http::async_read_header(
            socket, buf, parser,
            [self](const boost::system::error_code& ec, std::size_t) { self->on_head(ec); });
    }

    void on_head(const boost::system::error_code& ec) {
        if (closed)
            return;
        if (ec == http::error::header_limit || ec == http::error::buffer_overflow) {
            respond({431, "text/plain; charset=utf-8", "request too large\n"}, false);
            return;
        }
        if (ec == http::error::end_of_stream || ec == boost::asio::error::eof ||
            ec == boost::asio::error::operation_aborted ||
            ec == boost::asio::error::connection_reset) {
            close();
            return;
        }
        if (ec) {
            respond({400, "text/plain; charset=utf-8", "bad request\n"}, false);
            return;
        }
        head_read = true;
        const auto& req = parser.get();
        const bool head = req.method() == http::verb::head;
        if (req.method() != http::verb::get && !head) {
            respond({405, "text/plain; charset=utf-8", "only GET and HEAD\n"}, false);
            return;
        }
        const std::string_view target(req.target().data(), req.target().size());
        const std::string path(target.substr(0, target.find('?')));
        auto it = server.routes_.find(path);
        if (it == server.routes_.end()) {
            respond({404, "text/plain; charset=utf-8", "not found\n"}, head);
            return;
        }
        respond(it->second(), head);
    }

    void respond(const Response& r, bool head_only) {
        head_read = true;  // being answered: never evicted
        res.version(11);
        res.result(static_cast<unsigned>(r.status));
        res.set(http::field::content_type, r.content_type);
        res.set(http::field::cache_control, "no-store");
        res.keep_alive(false);
        // HEAD: the length of the body a GET would get, and no body.
        res.content_length(r.body.size());
        if (!head_only)
            res.body() = r.body;
        auto self = shared_from_this();
        http::async_write(socket, res, [self](const boost::system::error_code&, std::size_t) {
            boost::system::error_code ignored;
            self->socket.shutdown(tcp::socket::shutdown_both, ignored);
            self->close();
        });
    }

    void close() {
        if (closed)
            return;
        closed = true;
        --server.open_;
        timer.cancel();
        boost::system::error_code ignored;
        socket.close(ignored);
    }

    HttpServer& server;
    tcp::socket socket;
    boost::asio::steady_timer timer;
    boost::beast::flat_buffer buf;
    http::request_parser<http::empty_body> parser;
    http::response<http::string_body> res;
    bool head_read{false};  ///< once true, the connection is being answered: never evicted
    bool closed{false};
};

HttpServer::HttpServer(boost::asio::io_context& io, std::map<std::string, Handler> routes)
    : acceptor_(io), accept_backoff_(io), routes_(std::move(routes)) {}

HttpServer::~HttpServer() {
    stop();
}

void HttpServer::start(const std::string& host, unsigned short port) {
    boost::system::error_code ec;
    const auto addr = boost::asio::ip::make_address(host, ec);
    if (ec)
        throw config::ConfigError("metrics.listen", "must be an IP address, got \"" + host + "\"");
    const tcp::endpoint ep(addr, port);
    acceptor_.open(ep.protocol(), ec);
    if (!ec)
        set_cloexec(acceptor_.native_handle());
    if (!ec)
        acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec)
        acceptor_.bind(ep, ec);
    if (!ec)
        acceptor_.listen(k_backlog, ec);
    if (ec)
        throw config::ConfigError("metrics.listen", "cannot listen on " + host + ":" +
                                                        std::to_string(port) + ": " + ec.message());
    spdlog::info("metrics: serving /metrics and /healthz on {}:{}", host, this->port());
    do_accept();
}

void HttpServer::stop() {
    stopped_ = true;
    accept_backoff_.cancel();
    boost::system::error_code ignored;
    acceptor_.close(ignored);
}

unsigned short HttpServer::port() const {
    boost::system::error_code ec;
    const auto ep = acceptor_.local_endpoint(ec);
    return ec ? 0 : ep.port();
}

void HttpServer::do_accept() {
    acceptor_.async_accept([this](const boost::system::error_code& ec, tcp::socket s) {
        if (stopped_ || ec == boost::asio::error::operation_aborted)
            return;
        if (ec) {
            // EMFILE/ENFILE/ENOBUFS leave the connection in the backlog, so accepting again at
            // once fails again at once: the election's event loop would spin. Wait a little.
            if (!accept_failing_)
                spdlog::warn("metrics: accept failed: {}; retrying every {} ms", ec.message(),
                             k_accept_backoff.count());
            accept_failing_ = true;
            accept_backoff_.expires_after(k_accept_backoff);
            accept_backoff_.async_wait([this](const boost::system::error_code& e) {
                if (!e && !stopped_)
                    do_accept();
            });
            return;
        }
        accept_failing_ = false;
        set_cloexec(s.native_handle());
        make_room();
        auto session = std::make_shared<Session>(*this, std::move(s));
        sessions_.push_back(session);
        session->start();
        do_accept();
    });
}

void HttpServer::make_room() {
    // Forget finished sessions; at the limit, close the oldest one still waiting for its
    // request head. Idle connections (a slowloris, a stuck scraper) thus cannot keep a probe
    // of /healthz out: the newest connection is always served.
    std::erase_if(sessions_, [](const std::weak_ptr<Session>& w) {
        const auto s = w.lock();
        return !s || s->closed;
    });
    while (open_ >= k_max_connections) {
        const auto it =
            std::find_if(sessions_.begin(), sessions_.end(), [](const std::weak_ptr<Session>& w) {
                const auto s = w.lock();
                return s && !s->head_read && !s->closed;
            });
        if (it == sessions_.end())
            return;  // all are being answered: they finish within the I/O timeout
        const auto victim = it->lock();
        sessions_.erase(it);
        victim->close();
    }
}

}  // namespace af::metrics
