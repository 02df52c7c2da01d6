#include "af/core/event_kind.hpp"

namespace af::core {

std::optional<EventKind> parse_event_kind(std::string_view name) {
    for (const auto& k : k_event_kinds)
        if (k.name == name)
            return k.kind;
    return std::nullopt;
}

}  // namespace af::core
