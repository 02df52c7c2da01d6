#include "af/cli/preflight.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/udp.hpp>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "af/health/http_url.hpp"
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
        why += " (another program uses it, not this config's running daemon)";
    return why;
}

void check_command(std::vector<std::string>& out, const std::string& key,
                   const std::vector<std::string>& argv, const std::optional<std::string>& cwd,
                   const std::string& path) {
    if (argv.empty())
        return;  // the parser already refuses an empty command
    if (!find_command(argv[0], path, cwd))
        out.push_back(key + ": " + argv[0] +
                      (argv[0].find('/') != std::string::npos
                           ? " does not exist or is not executable"
                           : " is not found on the daemon's PATH (" + path + ")"));
}

std::string read_file(const std::string& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

/// A port in use: fine when this config's running daemon holds it.
std::string port_problem(std::string why, unsigned short port, bool udp,
                         const PreflightContext& ctx, const std::string& key) {
    if (why.empty() || why.find("(another program") == std::string::npos || !ctx.config_path)
        return why;
    if (const auto pid = running_daemon_for(*ctx.config_path); pid && holds_port(*pid, port, udp)) {
        if (ctx.notes)
            ctx.notes->push_back(key + ": port " + std::to_string(port) +
                                 " is held by this config's running daemon (pid " +
                                 std::to_string(*pid) + ")");
        return "";
    }
    return why;
}

}  // namespace

std::string http_url_problem(const std::string& url) {
    std::string why;
    return health::parse_http_url(url, &why) ? "" : why;
}

std::vector<std::pair<std::string, std::string>> read_environment_file(const std::string& path) {
    errno = 0;
    std::ifstream in(path);
    if (!in)
        throw std::runtime_error("cannot read " + path + ": " +
                                 (errno != 0 ? std::strerror(errno) : "unreadable"));
    std::vector<std::pair<std::string, std::string>> out;
    for (std::string line; std::getline(in, line);) {
        const auto first = line.find_first_not_of(" \t");
        if (first == std::string::npos || line[first] == '#' || line[first] == ';')
            continue;
        const auto eq = line.find('=', first);
        if (eq == std::string::npos)
            continue;
        std::string key = line.substr(first, eq - first);
        while (!key.empty() && (key.back() == ' ' || key.back() == '\t'))
            key.pop_back();
        std::string value = line.substr(eq + 1);
        value.erase(0, value.find_first_not_of(" \t"));
        if (value.size() >= 2 && (value.front() == '"' || value.front() == '\'') &&
            value.back() == value.front())
            value = value.substr(1, value.size() - 2);
        out.emplace_back(std::move(key), std::move(value));
    }
    return out;
}

std::optional<int> running_daemon_for(const std::string& config_path) {
    std::error_code ec;
    const auto mine = std::filesystem::weakly_canonical(config_path, ec);
    if (ec)
        return std::nullopt;
    for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
        const std::string name = entry.path().filename();
        if (name.empty() || !std::isdigit(static_cast<unsigned char>(name[0])))
            continue;
        const std::string cmdline = read_file(entry.path() / "cmdline");
        std::vector<std::string> argv;
        for (std::size_t i = 0; i < cmdline.size();) {
            const auto end = cmdline.find('\0', i);
            argv.push_back(cmdline.substr(i, end - i));
            i = end == std::string::npos ? cmdline.size() : end + 1;
        }
        if (argv.size() < 2 || std::filesystem::path(argv[0]).filename() != "airflow-failover" ||
            std::find(argv.begin(), argv.end(), "run") == argv.end())
            continue;
        std::string theirs = "/etc/airflow-failover/config.json";
        for (std::size_t i = 1; i < argv.size(); ++i) {
            if (argv[i] == "--config" && i + 1 < argv.size())
                theirs = argv[i + 1];
            else if (argv[i].rfind("--config=", 0) == 0)
                theirs = argv[i].substr(9);
        }
        if (!theirs.empty() && theirs[0] != '/') {
            // Relative to that process's directory, which only its user (or root) may read.
            const auto cwd = std::filesystem::read_symlink(entry.path() / "cwd", ec);
            if (ec)
                continue;
            theirs = (cwd / theirs).string();
        }
        if (std::filesystem::weakly_canonical(theirs, ec) == mine && !ec)
            return std::stoi(name);
    }
    return std::nullopt;
}

bool holds_port(int pid, unsigned short port, bool udp) {
    std::vector<std::string> inodes;
    const std::array<const char*, 2> tables =
        udp ? std::array<const char*, 2>{"/proc/net/udp", "/proc/net/udp6"}
            : std::array<const char*, 2>{"/proc/net/tcp", "/proc/net/tcp6"};
    for (const char* table : tables) {
        std::istringstream in(read_file(table));
        std::string line;
        std::getline(in, line);  // the header
        while (std::getline(in, line)) {
            std::istringstream f(line);
            std::string sl, local, remote, st, queues, timer, retr, uid, timeout, inode;
            f >> sl >> local >> remote >> st >> queues >> timer >> retr >> uid >> timeout >> inode;
            const auto colon = local.rfind(':');
            if (colon == std::string::npos ||
                std::stoul(local.substr(colon + 1), nullptr, 16) != port)
                continue;
            if (!udp && st != "0A")  // TCP: the listener only
                continue;
            inodes.push_back("socket:[" + inode + "]");
        }
    }
    if (inodes.empty())
        return false;
    std::error_code ec;
    const std::filesystem::path fds = "/proc/" + std::to_string(pid) + "/fd";
    std::filesystem::directory_iterator it(fds, ec);
    if (ec)
        return ec == std::errc::permission_denied;  // another user's daemon: its config says so
    for (const auto& fd : it) {
        const auto target = std::filesystem::read_symlink(fd.path(), ec);
        if (!ec && std::find(inodes.begin(), inodes.end(), target.string()) != inodes.end())
            return true;
    }
    return false;
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

std::vector<std::string> preflight(const config::Config& c, const PreflightContext& ctx) {
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
        if (auto why =
                port_problem(bind_problem<boost::asio::ip::udp>(h.listen_host, h.listen_port),
                             h.listen_port, true, ctx, "heartbeat.listen");
            !why.empty())
            out.push_back("heartbeat.listen: " + why);
    }
    if (c.metrics)
        if (auto why = port_problem(
                bind_problem<boost::asio::ip::tcp>(c.metrics->listen_host, c.metrics->listen_port),
                c.metrics->listen_port, false, ctx, "metrics.listen");
            !why.empty())
            out.push_back("metrics.listen: " + why);
    for (std::size_t i = 0; i < c.processes.size(); ++i) {
        const auto& p = c.processes[i];
        const std::string key = "processes[" + std::to_string(i) + "]";
        check_command(out, key + ".command", p.command, p.cwd, ctx.path);
        if (!p.health)
            continue;
        if (const auto* cmd = std::get_if<config::CommandHealth>(&p.health->check))
            check_command(out, key + ".health.command", cmd->command, std::nullopt, ctx.path);
        if (const auto* http = std::get_if<config::HttpHealth>(&p.health->check))
            if (auto why = http_url_problem(http->url); !why.empty())
                out.push_back(key + ".health.url: " + why);
    }
    if (c.hooks.on_role_change)
        check_command(out, "hooks.on_role_change.command", c.hooks.on_role_change->command,
                      std::nullopt, ctx.path);
    if (c.hooks.pre_promote)
        check_command(out, "hooks.pre_promote.command", c.hooks.pre_promote->command, std::nullopt,
                      ctx.path);
    return out;
}

}  // namespace af::cli
