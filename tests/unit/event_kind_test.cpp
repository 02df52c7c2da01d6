// The list of event kinds as the C++ sees it (af/core/event_kinds.def): names unique, each name
// reads back to its kind, and the core's kinds spell as the events table has always had them.
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "af/core/command_kind.hpp"
#include "af/core/event_kind.hpp"

namespace {

using af::core::EventKind;

TEST(EventKind, NamesAreUniqueAndReadBack) {
    std::set<std::string_view> names;
    for (const auto& k : af::core::k_event_kinds) {
        EXPECT_TRUE(names.insert(k.name).second) << k.name << " is listed twice";
        ASSERT_TRUE(af::core::parse_event_kind(k.name).has_value()) << k.name;
        EXPECT_EQ(*af::core::parse_event_kind(k.name), k.kind);
        EXPECT_FALSE(k.category.empty()) << k.name;
        EXPECT_FALSE(k.meaning.empty()) << k.name;
    }
    EXPECT_FALSE(af::core::parse_event_kind("no_such_kind").has_value());
}

TEST(EventKind, SpellingsOfTheEventsTable) {
    // Stored rows, the dashboard's SQL and alert rules match on these exact strings.
    EXPECT_EQ(to_string(EventKind::became_active), "became_active");
    EXPECT_EQ(to_string(EventKind::fenced), "fenced");
    EXPECT_EQ(to_string(EventKind::daemon_died), "daemon_died");
}

TEST(CommandKind, SpellingsOfTheCommandsTable) {
    // The commands table's CHECK allows exactly these (src/db/migrations.cpp).
    EXPECT_EQ(to_string(af::core::CommandKind::switchover), "switchover");
    EXPECT_EQ(to_string(af::core::CommandKind::terminate), "terminate");
    EXPECT_EQ(af::core::parse_command_kind("terminate"), af::core::CommandKind::terminate);
    EXPECT_FALSE(af::core::parse_command_kind("reboot").has_value());
}

}  // namespace
