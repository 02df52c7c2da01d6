#pragma once

#include "af/config/config.hpp"

namespace af::cli {

/// `check-config`: the parsed config plus everything `run` would refuse at start (preflight),
/// then the effective timings. Exit 0 when `run` would start, 2 otherwise. Without
/// `host_checks` (--syntax-only) only the file is checked: for CI or a template on a build host.
int cmd_check_config(const config::Config& c, bool host_checks = true);

}  // namespace af::cli
