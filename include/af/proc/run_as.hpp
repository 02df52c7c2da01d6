#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

namespace af::proc {

/// A Unix identity to run a managed process under, resolved before fork (the lookups are not
/// async-signal-safe).
struct RunAs {
    uid_t uid{0};
    gid_t gid{0};
    std::vector<gid_t> groups;  ///< supplementary groups, as initgroups() would set them
    std::string user;
    std::string home;
    bool operator==(const RunAs&) const = default;
};

/// Looks up `user` (name or number) and optionally `group` (default: the user's primary group).
/// Throws std::runtime_error naming the unknown user or group.
RunAs resolve_run_as(const std::string& user, const std::optional<std::string>& group);

}  // namespace af::proc
