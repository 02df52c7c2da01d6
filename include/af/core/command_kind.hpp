#pragma once

#include <optional>
#include <string_view>

namespace af::core {

/// What an operator command asks (the commands table's `kind`, docs/operations.md).
enum class CommandKind { switchover, terminate };

/// The spelling in the commands table ("switchover", "terminate").
constexpr std::string_view to_string(CommandKind k) {
    return k == CommandKind::switchover ? "switchover" : "terminate";
}

/// The kind spelled `s` in the commands table, or nothing for another spelling.
constexpr std::optional<CommandKind> parse_command_kind(std::string_view s) {
    for (CommandKind k : {CommandKind::switchover, CommandKind::terminate})
        if (s == to_string(k))
            return k;
    return std::nullopt;
}

}  // namespace af::core
