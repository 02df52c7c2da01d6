#pragma once

#include <optional>
#include <string>

#include "af/config/config.hpp"

namespace af::cli {

/// `check-config`: the parsed config plus everything `run` would refuse at start (preflight),
/// then the effective timings. Exit 0 when `run` would start, 2 otherwise. Without
/// `host_checks` (--syntax-only) only the file is checked: for CI or a template on a build host.
/// Commands are searched on the unit's PATH: `environment_file` (or
/// /etc/default/airflow-failover when it exists), else the caller's. A listen port held by the
/// running daemon of `config_path` is its own, not a conflict.
int cmd_check_config(const config::Config& c, bool host_checks = true,
                     const std::optional<std::string>& environment_file = std::nullopt,
                     const std::optional<std::string>& config_path = std::nullopt);

}  // namespace af::cli
