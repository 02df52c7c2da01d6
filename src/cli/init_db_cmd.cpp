// `init-db`: the schema, its owner and the fencing function, as an administrator sets them up.
#include <iostream>
#include <pqxx/pqxx>

#include "af/cli/cli.hpp"
#include "af/cli/cluster_cmds.hpp"
#include "af/db/connection.hpp"
#include "af/db/fencing_sql.hpp"
#include "af/db/migrations.hpp"

namespace af::cli {

int cmd_init_db(const config::Config& c, const std::optional<std::string>& conninfo,
                const std::optional<std::string>& daemon_role) {
    try {
        auto conn = db::open_connection(conninfo.value_or(c.database.conninfo),
                                        c.database.connect_timeout, Duration{30000});
        const std::string& schema = c.database.schema;
        if (!daemon_role) {
            const int n = db::migrate(*conn, schema);
            std::cout << "schema " << schema << ": applied " << n
                      << " migration(s), now at version " << db::latest_schema_version() << "\n";
            if (!c.fence_roles.empty())
                std::cout << "fencing: without --daemon-role the daemon fences directly and "
                             "needs CREATEROLE; run init-db as an administrator with "
                             "--daemon-role to give it a fencing function instead\n";
            return 0;
        }
        const std::string& role = *daemon_role;
        {
            pqxx::nontransaction tx(*conn);
            const auto r = tx.exec_params(
                "SELECT rolsuper, rolcreaterole FROM pg_roles WHERE rolname = $1", role);
            if (r.empty())
                throw std::runtime_error("--daemon-role: no role named " + role);
            if (r[0][0].as<bool>() || r[0][1].as<bool>())
                std::cerr << "warning: role " << role
                          << " is a superuser or has CREATEROLE; the daemon needs neither\n";
            // The daemon owns its schema (created here, by the administrator, so the daemon
            // needs no CREATE on the database); its objects are created as it.
            tx.exec("CREATE SCHEMA IF NOT EXISTS " + db::quoted(schema) + " AUTHORIZATION " +
                    tx.quote_name(role));
            tx.exec("SET ROLE " + tx.quote_name(role));
        }
        const int n = db::migrate(*conn, schema);
        {
            pqxx::nontransaction tx(*conn);
            tx.exec("RESET ROLE");
            // Nobody else uses the schema unless granted (the dashboard: webapp grant-role).
            tx.exec("REVOKE ALL ON SCHEMA " + db::quoted(schema) + " FROM PUBLIC");
            for (const auto& [node, airflow_role] : c.fence_roles) {
                const auto exists =
                    tx.exec_params("SELECT 1 FROM pg_roles WHERE rolname = $1", airflow_role);
                if (exists.empty()) {
                    std::cerr << "warning: fencing.database_roles." << node << ": no role named "
                              << airflow_role << " yet\n";
                    continue;
                }
                // Airflow's roles (which DAG code can use) get nothing on the daemon's schema.
                const std::string r = tx.quote_name(airflow_role);
                tx.exec("REVOKE ALL ON ALL TABLES IN SCHEMA " + db::quoted(schema) + " FROM " + r);
                tx.exec("REVOKE ALL ON ALL SEQUENCES IN SCHEMA " + db::quoted(schema) + " FROM " +
                        r);
                tx.exec("REVOKE ALL ON SCHEMA " + db::quoted(schema) + " FROM " + r);
            }
        }
        std::cout << "schema " << schema << " (owner " << role << "): applied " << n
                  << " migration(s), now at version " << db::latest_schema_version() << "\n";
        if (!c.fence_roles.empty()) {
            db::install_fencing(*conn, schema, c.cluster, c.fence_roles, role);
            std::cout << "fencing: " << schema << "." << db::fencing_function(c.cluster)
                      << " may change LOGIN of";
            for (const auto& [node, r] : c.fence_roles)
                std::cout << " " << r;
            std::cout << " for the lease holder; EXECUTE granted to " << role << " only\n";
        }
        return 0;
    } catch (const std::exception& e) {
        std::cerr << "airflow-failover init-db: " << e.what() << "\n";
        return k_exit_unknown;
    }
}

int cmd_grant_airflow(const config::Config& c, const std::optional<std::string>& conninfo,
                      const std::string& role) {
    // What the takeover step (src/airflow/takeover_sql.cpp) and the airflow-db health checks do
    // on Airflow's job table as the role of airflow.conninfo: read it, close out jobs.
    try {
        const std::string airflow_conninfo = c.airflow ? c.airflow->conninfo : c.database.conninfo;
        const std::string schema = c.airflow ? c.airflow->schema : std::string();
        auto conn = db::open_connection(conninfo.value_or(airflow_conninfo),
                                        c.database.connect_timeout, Duration{30000});
        pqxx::nontransaction tx(*conn);
        if (tx.exec_params("SELECT 1 FROM pg_roles WHERE rolname = $1", role).empty())
            throw std::runtime_error("--airflow-role: no role named " + role);
        const std::string table = schema.empty() ? "job" : db::quoted(schema) + ".job";
        if (tx.exec_params("SELECT to_regclass($1)", table)[0][0].is_null())
            throw std::runtime_error(
                "--airflow-role: no table " + table + " in database " +
                tx.exec("SELECT current_database()")[0][0].as<std::string>() +
                "; run it against Airflow's metadata database (--conninfo) after `airflow db "
                "migrate`, or set airflow.schema");
        const std::string r = tx.quote_name(role);
        if (!schema.empty())
            tx.exec("GRANT USAGE ON SCHEMA " + db::quoted(schema) + " TO " + r);
        tx.exec("GRANT SELECT, UPDATE (state, end_date) ON " + table + " TO " + r);
        std::cout << "airflow: granted SELECT, UPDATE (state, end_date) ON " << table << " to "
                  << role << " (the takeover step and the airflow-db health checks)\n";
        return 0;
    } catch (const std::exception& e) {
        std::cerr << "airflow-failover init-db --airflow-role: " << e.what() << "\n";
        return k_exit_unknown;
    }
}

}  // namespace af::cli
