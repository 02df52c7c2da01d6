// check-config's pure checks: health URLs and where a command is found (as spawn execs it).
#include "af/cli/preflight.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>

#include "af/health/http_url.hpp"

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
    EXPECT_NE(http_url_problem("http://[::g]/").find("not an IPv6 address"), std::string::npos);
}

// The one parser check-config and the http check share: what check-config passes, the check
// can request (an IPv6 literal is resolved without its brackets, and sent with them).
TEST(Preflight, TheHealthCheckReadsUrlsAsCheckConfigDoes) {
    const auto v6 = af::health::parse_http_url("http://[::1]:8974/health");
    ASSERT_TRUE(v6);
    EXPECT_EQ(v6->host, "::1");
    EXPECT_EQ(v6->port, "8974");
    EXPECT_EQ(v6->path, "/health");
    EXPECT_EQ(v6->host_header(), "[::1]:8974");
    const auto plain = af::health::parse_http_url("http://web");
    ASSERT_TRUE(plain);
    EXPECT_EQ(plain->host, "web");
    EXPECT_EQ(plain->port, "80");
    EXPECT_EQ(plain->path, "/");
    EXPECT_EQ(plain->host_header(), "web");
}

TEST(Preflight, EnvironmentFilesAreReadAsSystemdReadsThem) {
    const std::string path = ::testing::TempDir() + "/af_env_" + std::to_string(::getpid());
    {
        std::ofstream out(path);
        out << "# comment\n; another\n\nPATH=/opt/airflow/bin:/usr/bin\nA = \"quoted value\"\n";
    }
    const auto env = af::cli::read_environment_file(path);
    std::remove(path.c_str());
    ASSERT_EQ(env.size(), 2u);
    EXPECT_EQ(env[0], (std::pair<std::string, std::string>{"PATH", "/opt/airflow/bin:/usr/bin"}));
    EXPECT_EQ(env[1], (std::pair<std::string, std::string>{"A", "quoted value"}));
    try {
        af::cli::read_environment_file("/nonexistent/env");
        FAIL();
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find("No such file or directory"), std::string::npos);
    }
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
