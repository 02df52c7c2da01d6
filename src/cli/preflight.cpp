#include "af/cli/preflight.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/udp.hpp>
#include <cctype>
#include <cstdlib>

#include "af/net/heartbeat_service.hpp"

namespace af::cli {

namespace {

bool executable_file(const std::string& p) {
    struct stat st {};
    return stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode) && access(p.c_str(), X_OK) == 0;
}

/// Binds host:port the way the daemon will (UDP for heartbeats, TCP for metrics) and lets go.
template <class Protocol>
std::string bind_problem(const std::string& host, unsigned short port) {
    boost::asio::io_context io;
    boost::system::error_code ec;
    const auto addr = boost::asio::ip::make_address(host, ec);
    if (ec)
        return "\"" + host + "\" is not an IP address";
    typename Protocol::endpoint ep(addr, port);
    if constexpr (std::is_same_v<Protocol, boost::asio::ip::tcp>) {
        boost::asio::ip::tcp::acceptor a(io);
        a.open(ep.protocol(), ec);
        if (!ec)
            a.set_option(boost::asio::socket_base::reuse_address(true), ec);
        if (!ec)
            a.bind(ep, ec);
        if (!ec)
            a.listen(boost::asio::socket_base::max_listen_connections, ec);
    } else {
        boost::asio::ip::udp::socket s(io);
        s.open(ep.protocol(), ec);
        if (!ec)
            s.bind(ep, ec);
    }
    if (!ec)
        return "";
    std::string why = "cannot listen on " + host + ":" + std::to_string(port) + ": " + ec.message();
    if (ec == boost::asio::error::address_in_use)
        why += " (another program, or this node's daemon, already uses it)";
    return why;
}

void check_command(std::vector<std::string>& out, const std::string& key,
                   const std::vector<std::string>& argv, const std::optional<std::string>& cwd) {
    if (argv.empty())
        return;  // the parser already refuses an empty command
    const char* path = std::getenv("PATH");
    if (!find_command(argv[0], path ? path : "", cwd))
        out.push_back(key + ": " + argv[0] +
                      (argv[0].find('/') != std::string::npos
                           ? " does not exist or is not executable"
                           : " is not found on PATH (" + std::string(path ? path : "") + ")"));
}

}  // namespace

std::string http_url_problem(const std::string& url) {
    // http://host[:port][/path]; host a name (letters, digits, '.', '-'), IPv4, or [IPv6].
    const std::string bad = "\"" + url + "\" is not a URL of the form http://host[:port][/path]";
    const std::string scheme = "http://";
    if (url.rfind(scheme, 0) != 0)
        return bad;
    const std::string rest = url.substr(scheme.size());
    const std::size_t slash = rest.find('/');
    const std::string hostport = rest.substr(0, slash);
    const std::string path = slash == std::string::npos ? "" : rest.substr(slash);
    std::string host = hostport, port;
    if (!hostport.empty() && hostport[0] == '[') {
        const auto close = hostport.find(']');
        if (close == std::string::npos || close == 1)
            return bad;
        host = hostport.substr(1, close - 1);
        for (char ch : host)
            if (!std::isxdigit(static_cast<unsigned char>(ch)) && ch != ':' && ch != '.')
                return bad;
        const std::string after = hostport.substr(close + 1);
        if (!after.empty() && after[0] != ':')
            return bad;
        port = after.empty() ? "" : after.substr(1);
        if (!after.empty() && port.empty())
            return bad;
    } else {
        const auto colon = hostport.find(':');
        if (colon != std::string::npos) {
            host = hostport.substr(0, colon);
            port = hostport.substr(colon + 1);
            if (port.empty())
                return bad;
        }
        if (host.empty() || host.front() == '-' || host.front() == '.' || host.back() == '-' ||
            host.back() == '.')
            return bad;
        for (char ch : host)
            if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '.' && ch != '-')
                return bad;
    }
    if (!port.empty()) {
        if (port.size() > 5)
            return "\"" + url + "\" has port " + port + "; a port is 1-65535";
        for (char ch : port)
            if (!std::isdigit(static_cast<unsigned char>(ch)))
                return bad;
        const long p = std::stol(port);
        if (p < 1 || p > 65535)
            return "\"" + url + "\" has port " + port + "; a port is 1-65535";
    }
    for (char ch : path)
        if (std::isspace(static_cast<unsigned char>(ch)) || ch == '#')
            return bad;
    return "";
}

std::optional<std::string> find_command(const std::string& command, const std::string& path,
                                        const std::optional<std::string>& cwd) {
    if (command.find('/') != std::string::npos) {
        const std::string p = command[0] == '/' || !cwd ? command : *cwd + "/" + command;
        return executable_file(p) ? std::optional(p) : std::nullopt;
    }
    const std::string dirs = path.empty() ? "/usr/local/bin:/usr/bin:/bin" : path;
    std::size_t start = 0;
    while (start <= dirs.size()) {
        const auto colon = dirs.find(':', start);
        std::string dir =
            dirs.substr(start, colon == std::string::npos ? std::string::npos : colon - start);
        const std::string p = (dir.empty() ? "." : dir) + "/" + command;
        if (executable_file(p))
            return p;
        if (colon == std::string::npos)
            break;
        start = colon + 1;
    }
    return std::nullopt;
}

std::vector<std::string> preflight(const config::Config& c) {
    std::vector<std::string> out;
    // The shipped config's node id: two hosts left at it would be one node to the cluster.
    std::string lower = c.node_id;
    for (auto& ch : lower)
        ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    for (const char* placeholder : {"change-me", "changeme", "change_me"})
        if (lower.find(placeholder) != std::string::npos) {
            out.push_back("node_id: \"" + c.node_id +
                          "\" is the shipped placeholder; set this host's own node id (the "
                          "same name the other nodes use for it in heartbeat.peers)");
            break;
        }
    if (c.heartbeat) {
        const auto& h = *c.heartbeat;
        struct stat st {};
        if (!h.insecure && stat(h.secret_file.c_str(), &st) != 0) {
            out.push_back("heartbeat.secret_file: " + h.secret_file + " does not exist");
        } else if (!h.insecure && !S_ISREG(st.st_mode)) {
            out.push_back("heartbeat.secret_file: " + h.secret_file + " is not a regular file");
        } else {
            try {
                net::load_key(h);  // the daemon's own checks: private, readable, long enough
            } catch (const config::ConfigError& e) {
                out.emplace_back(e.what());
            } catch (const std::exception& e) {
                out.push_back("heartbeat.secret_file: cannot read " + h.secret_file + ": " +
                              e.what());
            }
        }
        if (auto why = bind_problem<boost::asio::ip::udp>(h.listen_host, h.listen_port);
            !why.empty())
            out.push_back("heartbeat.listen: " + why);
    }
    if (c.metrics)
        if (auto why =
                bind_problem<boost::asio::ip::tcp>(c.metrics->listen_host, c.metrics->listen_port);
            !why.empty())
            out.push_back("metrics.listen: " + why);
    for (std::size_t i = 0; i < c.processes.size(); ++i) {
        const auto& p = c.processes[i];
        const std::string key = "processes[" + std::to_string(i) + "]";
        check_command(out, key + ".command", p.command, p.cwd);
        if (!p.health)
            continue;
        if (const auto* cmd = std::get_if<config::CommandHealth>(&p.health->check))
            check_command(out, key + ".health.command", cmd->command, std::nullopt);
        if (const auto* http = std::get_if<config::HttpHealth>(&p.health->check))
            if (auto why = http_url_problem(http->url); !why.empty())
                out.push_back(key + ".health.url: " + why);
    }
    if (c.hooks.on_role_change)
        check_command(out, "hooks.on_role_change.command", c.hooks.on_role_change->command,
                      std::nullopt);
    if (c.hooks.pre_promote)
        check_command(out, "hooks.pre_promote.command", c.hooks.pre_promote->command, std::nullopt);
    return out;
}

}  // namespace af::cli
