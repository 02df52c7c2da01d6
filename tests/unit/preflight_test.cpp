// check-config's pure checks: health URLs and where a command is found (as spawn execs it).
#include "af/cli/preflight.hpp"

#include <gtest/gtest.h>

namespace {

using af::cli::find_command;
using af::cli::http_url_problem;

TEST(Preflight, HealthUrls) {
    for (const char* ok : {"http://127.0.0.1:8974/health", "http://localhost/", "http://web",
                           "http://[::1]:8080/x?y=1", "http://sched-01.example.com:80/health"})
        EXPECT_EQ(http_url_problem(ok), "") << ok;
    for (const char* bad : {"http://", "http://:80/", "http://host:0/", "http://host:70000/",
                            "http://host:port/", "http://ho st/", "https://host/", "http//host"})
        EXPECT_NE(http_url_problem(bad), "") << bad;
    EXPECT_NE(http_url_problem("http://host:70000/").find("a port is 1-65535"), std::string::npos);
}

TEST(Preflight, CommandsAreFoundAsSpawnFindsThem) {
    EXPECT_EQ(find_command("sh", "/nonexistent:/bin", std::nullopt), "/bin/sh");
    EXPECT_FALSE(find_command("sh", "/nonexistent", std::nullopt));
    EXPECT_EQ(find_command("/bin/sh", "", std::nullopt), "/bin/sh");
    EXPECT_EQ(find_command("./sh", "", std::string("/bin")), "/bin/./sh");
    EXPECT_FALSE(find_command("./sh", "", std::string("/nonexistent")));
    // A directory on PATH with the command's name is not a command.
    EXPECT_FALSE(find_command("bin", "/", std::nullopt));
    // Empty PATH: spawn's default.
    EXPECT_TRUE(find_command("sh", "", std::nullopt));
}

}  // namespace
