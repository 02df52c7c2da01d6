#pragma once

#include <optional>
#include <string>
#include <vector>

#include "af/config/config.hpp"

namespace af::cli {

/// Everything `run` would refuse at start that parsing the config cannot see: the heartbeat
/// secret file (exists, readable, long enough, private), the listen addresses (parse, ports
/// free), every command (processes, health checks, hooks) found as `run` would exec it, the
/// health URLs. One line per problem, each "key: problem"; empty when all is well.
std::vector<std::string> preflight(const config::Config& c);

/// Why an http:// health URL would not work ("" when it parses: host, port 1-65535, path).
std::string http_url_problem(const std::string& url);

/// Where `run` would find `command` (argv[0]): as given when it holds a '/' (relative to `cwd`
/// if set), else the first executable regular file in `path` (the daemon's PATH; the default
/// when empty, as spawn uses). None when not found.
std::optional<std::string> find_command(const std::string& command, const std::string& path,
                                        const std::optional<std::string>& cwd);

}  // namespace af::cli
