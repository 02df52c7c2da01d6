#pragma once

#include <optional>
#include <string_view>

namespace af::core {

/// What an operator command asks (the commands table's `kind`, docs/operations.md).
enum class CommandKind { switchover, terminate, restart };

/// The spelling in the commands table ("switchover", "terminate", "restart").
constexpr std::string_view to_string(CommandKind k) {
    switch (k) {
        case CommandKind::switchover:
            return "switchover";
        case CommandKind::terminate:
            return "terminate";
        case CommandKind::restart:
            return "restart";
    }
    return "";
}

/// The kind spelled `s` in the commands table, or nothing for another spelling.
constexpr std::optional<CommandKind> parse_command_kind(std::string_view s) {
    for (CommandKind k : {CommandKind::switchover, CommandKind::terminate, CommandKind::restart})
        if (s == to_string(k))
            return k;
    return std::nullopt;
}

}  // namespace af::core
