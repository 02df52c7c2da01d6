#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "af/config/config.hpp"

namespace af::cli {

/// Everything `run` would refuse at start that parsing the config cannot see: the heartbeat
/// secret file (exists, readable, long enough, private), the listen addresses (parse, ports
/// free), every command (processes, health checks, hooks) found as `run` would exec it, the
/// health URLs. One line per problem, each "key: problem"; empty when all is well.
/// Where `run` would run: the PATH its unit gives it, and its config file (to know its own
/// running daemon's ports from another program's).
struct PreflightContext {
    std::string path;                          ///< the daemon's PATH ("" : spawn's default)
    std::optional<std::string> config_path;    ///< this config, to find its running daemon
    std::vector<std::string>* notes{nullptr};  ///< what is fine but worth saying
};
std::vector<std::string> preflight(const config::Config& c, const PreflightContext& ctx);
/// The unit's environment (systemd EnvironmentFile syntax: KEY=VALUE lines, '#' and ';'
/// comments, optional quotes) as name -> value. Throws std::runtime_error with the errno text
/// when the file cannot be read.
std::vector<std::pair<std::string, std::string>> read_environment_file(const std::string& path);
/// The pid of a running `airflow-failover run` for `config_path` (the same file), if any.
std::optional<int> running_daemon_for(const std::string& config_path);
/// Whether process `pid` holds the socket listening on `port` (UDP or TCP LISTEN); also true
/// when its file descriptors cannot be read (another user's process without privileges).
bool holds_port(int pid, unsigned short port, bool udp);

/// Why an http:// health URL would not work ("" when it parses: host, port 1-65535, path).
std::string http_url_problem(const std::string& url);

/// Where `run` would find `command` (argv[0]): as given when it holds a '/' (relative to `cwd`
/// if set), else the first executable regular file in `path` (the daemon's PATH; the default
/// when empty, as spawn uses). None when not found.
std::optional<std::string> find_command(const std::string& command, const std::string& path,
                                        const std::optional<std::string>& cwd);

}  // namespace af::cli
