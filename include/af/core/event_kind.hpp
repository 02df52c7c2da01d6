#pragma once

#include <array>
#include <cstddef>
#include <optional>
#include <string_view>

namespace af::core {

/// The kind of an events-table row. The list is af/core/event_kinds.def, shared with the
/// dashboard and the docs (docs/operations.md, "Event kinds").
enum class EventKind {
#define AF_EVENT_KIND(kind, category, meaning) kind,
#include "af/core/event_kinds.def"
#undef AF_EVENT_KIND
};

/// Every kind with its name, in the order of the list.
struct EventKindInfo {
    EventKind kind;
    std::string_view name;
    std::string_view category;
    std::string_view meaning;
};

inline constexpr std::array k_event_kinds{
#define AF_EVENT_KIND(kind, category, meaning) \
    EventKindInfo{EventKind::kind, #kind, category, meaning},
#include "af/core/event_kinds.def"
#undef AF_EVENT_KIND
};

constexpr std::string_view to_string(EventKind k) {
    return k_event_kinds[static_cast<std::size_t>(k)].name;
}

/// The kind named `name`, or nothing for a name that is not on the list.
std::optional<EventKind> parse_event_kind(std::string_view name);

}  // namespace af::core
