#include "af/cli/cli_common.hpp"

#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>
#include <sstream>
#include <stdexcept>

#include "af/db/connection.hpp"
#include "af/db/migrations.hpp"

namespace af::cli {

std::string requester(pqxx::connection& conn) {
    char host[256] = {};
    gethostname(host, sizeof host - 1);
    std::string user = std::to_string(getuid());
    if (const passwd* pw = getpwuid(getuid()))
        user = pw->pw_name;
    pqxx::nontransaction tx(conn);
    const auto r = tx.exec("SELECT session_user, current_user");
    std::string role = r[0][0].as<std::string>();
    if (r[0][1].as<std::string>() != role)
        role += " (as " + r[0][1].as<std::string>() + ")";
    return "cli:" + user + "@" + host + " as " + role;
}

void require_schema(pqxx::connection& conn, const config::Config& c) {
    const int version = db::schema_version(conn, c.database.schema);
    if (version < db::latest_schema_version())
        throw std::runtime_error(
            "schema " + c.database.schema + " is at version " + std::to_string(version) +
            ", this build needs " + std::to_string(db::latest_schema_version()) +
            ": run `airflow-failover init-db` (or start a daemon of this build) first");
}

std::unique_ptr<pqxx::connection> open_for_operator(const config::Config& c) {
    auto conn = db::open_connection(c.database.conninfo, c.database.connect_timeout,
                                    k_operator_statement_timeout);
    require_schema(*conn, c);
    return conn;
}

std::string error_text(const std::exception& e) {
    std::string s = e.what();
    while (!s.empty() && (s.back() == '\n' || s.back() == ' '))
        s.pop_back();
    if (const auto* sql = dynamic_cast<const pqxx::sql_error*>(&e); sql && !sql->sqlstate().empty())
        s += " (SQL state " + sql->sqlstate() + ")";
    return s;
}

config::Config load_cli_config(const std::string& path, bool operator_only) {
    if (operator_only) {
        std::ifstream in(path);
        std::stringstream ss;
        ss << in.rdbuf();
        const auto j = nlohmann::json::parse(ss.str(), nullptr, false);
        // An operator's file names the cluster and how to reach its database, nothing about a
        // node: complete it so that every key it has is checked as in a node's config.
        if (in && j.is_object() && !j.contains("node_id") && !j.contains("processes")) {
            auto full = j;
            full["node_id"] = "cli";
            full["processes"] = nlohmann::json::array();
            try {
                return config::parse_config(full.dump());
            } catch (const config::ConfigError& e) {
                throw config::ConfigError(
                    e.key(), std::string(e.what()).substr(e.key().size() + 2) + " (in " + path +
                                 ", an operator's config)");
            }
        }
    }
    return config::load_config(path);
}

}  // namespace af::cli
