#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <set>
#include <string>

#include "af/util/boot_clock.hpp"

namespace af::guard {

/// What the guard knows, built from the daemon's command lines:
///   conf <json>            database settings for the release (first line)
///   arm <term> <deadline>  boot-clock nanoseconds by which to kill unless extended
///   groups <pgid> ...      the process groups to kill (replaces the set)
///   disarm                 no lease held any more
struct GuardState {
    std::string conf_json;
    std::optional<std::int64_t> term;
    TimePoint deadline{TimePoint::max()};
    std::set<pid_t> groups;
    bool fired{false};

    /// Applies one line; returns false (and changes nothing) when it is malformed.
    bool apply(const std::string& line);
    /// True when the deadline passed with groups still to kill.
    bool due(TimePoint now) const { return term && !fired && !groups.empty() && now >= deadline; }
};

std::string arm_line(std::int64_t term, TimePoint deadline);
std::string groups_line(const std::set<pid_t>& groups);

}  // namespace af::guard
