#pragma once

#include <string>
#include <vector>

namespace af::cli {

/// Exit codes of `status` (and of every command that reads the cluster).
inline constexpr int k_exit_healthy = 0;
inline constexpr int k_exit_no_active = 1;
inline constexpr int k_exit_unknown = 2;

/// Entry point for every subcommand; returns the process exit code.
int main(const std::vector<std::string>& args);

}  // namespace af::cli
