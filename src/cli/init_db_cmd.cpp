// `init-db`: the schema, its owner and the fencing function, as an administrator sets them up.
#include <iostream>
#include <pqxx/pqxx>

#include "af/cli/cli.hpp"
#include "af/cli/cli_common.hpp"
#include "af/cli/cluster_cmds.hpp"
#include "af/db/connection.hpp"
#include "af/db/fencing_sql.hpp"
#include "af/db/migrations.hpp"

namespace af::cli {

namespace {

// The schema's owner may drop or replace anything in it, and a table's owner may disable its
// triggers: so the administrator keeps the schema, the events table (append-only, issue 22)
// and, in FencingSql::install, the fencing state. The daemon keeps the tables it made (lease,
// nodes, commands, ...) and may create new ones (its migrations).
void take_from_daemon(pqxx::transaction_base& tx, const std::string& schema,
                      const std::string& role) {
    const std::string s = db::quoted(schema);
    const std::string r = tx.quote_name(role);
    tx.exec("ALTER SCHEMA " + s + " OWNER TO CURRENT_USER");
    tx.exec("GRANT USAGE, CREATE ON SCHEMA " + s + " TO " + r);
    // The sequence behind events.id follows its table.
    tx.exec("ALTER TABLE " + s + ".events OWNER TO CURRENT_USER");
    tx.exec("ALTER FUNCTION " + s + ".events_append_only() OWNER TO CURRENT_USER");
    // The daemon could not replace the rule the administrator owns (migration 8): do it here.
    tx.exec(db::events_guard_sql(schema));
    tx.exec("REVOKE ALL ON " + s + ".events FROM " + r);
    tx.exec("GRANT SELECT, INSERT ON " + s + ".events TO " + r);
    tx.exec("GRANT USAGE ON SEQUENCE " + s + ".events_id_seq TO " + r);
}

// A role that row-level security binds to one cluster (the operators', the dashboard's): refused
// if it could step past the policies; whatever it had on the schema's tables is taken back, so
// the grants that follow are all it has.
void start_limited_grant(pqxx::transaction_base& tx, const std::string& schema,
                         const std::string& role, const std::string& option) {
    const auto r = tx.exec_params(
        "SELECT rolsuper OR rolbypassrls OR rolcreaterole FROM pg_roles WHERE rolname = $1", role);
    if (r.empty())
        throw std::runtime_error(option + ": no role named " + role);
    if (r[0][0].as<bool>())
        throw std::runtime_error(option + ": role " + role +
                                 " is a superuser or has BYPASSRLS or CREATEROLE, which "
                                 "row-level security and these grants cannot limit");
    const std::string s = db::quoted(schema);
    const std::string q = tx.quote_name(role);
    tx.exec("REVOKE ALL ON ALL TABLES IN SCHEMA " + s + " FROM " + q);
    tx.exec("REVOKE ALL ON ALL SEQUENCES IN SCHEMA " + s + " FROM " + q);
    tx.exec("GRANT USAGE ON SCHEMA " + s + " TO " + q);
}

// `status`, `history`, `pause`, `resume`, `switchover`, `restart`, `remove` and `failover` for
// one cluster, nothing more: read the state tables, request switchovers and restarts (and cancel
// scheduled switchovers), set and clear the pause, delete its cluster's node rows, reserve a
// free lease for a standby (reserve_free_lease, never a live one) and add the operator's own
// events. No lease writes, no terminate, no other cluster's commands, pause or nodes (row-level
// security), no fencing state, no events pruning. Run as the administrator, who owns or may grant
// all of it.
void grant_operator(pqxx::transaction_base& tx, const std::string& schema,
                    const std::string& cluster, const std::string& role) {
    start_limited_grant(tx, schema, role, "--operator-role");
    const std::string s = db::quoted(schema);
    const std::string o = tx.quote_name(role);
    const std::string c = tx.quote(cluster);
    tx.exec("GRANT SELECT ON " + s + ".lease, " + s + ".nodes, " + s + ".events, " + s +
            ".schema_migrations TO " + o);
    tx.exec("GRANT INSERT (cluster, node_id, term, kind, detail) ON " + s + ".events TO " + o);
    tx.exec("GRANT USAGE ON SEQUENCE " + s + ".events_id_seq, " + s + ".commands_id_seq TO " + o);
    tx.exec(
        "GRANT SELECT, INSERT (cluster, kind, target, requested_by, for_holder, for_term,"
        " not_before), UPDATE (taken_by, taken_at, done_at, result) ON " +
        s + ".commands TO " + o);
    tx.exec("GRANT SELECT, INSERT, UPDATE, DELETE ON " + s + ".pause TO " + o);
    // One policy name per role and table; the cluster is the only row filter.
    const std::string policy = tx.quote_name("operator_" + role);
    tx.exec("DROP POLICY IF EXISTS " + policy + " ON " + s + ".commands");
    tx.exec("CREATE POLICY " + policy + " ON " + s + ".commands TO " + o + " USING (cluster = " +
            c + ") WITH CHECK (cluster = " + c + " AND kind IN ('switchover', 'restart'))");
    tx.exec("DROP POLICY IF EXISTS " + policy + " ON " + s + ".pause");
    tx.exec("CREATE POLICY " + policy + " ON " + s + ".pause TO " + o + " USING (cluster = " + c +
            ") WITH CHECK (cluster = " + c + ")");
    tx.exec("GRANT DELETE ON " + s + ".nodes TO " + o);
    tx.exec("DROP POLICY IF EXISTS " + policy + " ON " + s + ".nodes");
    tx.exec("CREATE POLICY " + policy + " ON " + s + ".nodes FOR DELETE TO " + o +
            " USING (cluster = " + c + ")");
    tx.exec("GRANT EXECUTE ON FUNCTION " + s + ".reserve_free_lease(text, text, bigint) TO " + o);
    tx.exec_params("INSERT INTO " + s +
                       ".operator_clusters (role, cluster) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                   role, cluster);
}

void grant_operator_role(pqxx::connection& conn, const std::string& schema,
                         const std::string& cluster, const std::string& role) {
    pqxx::work tx(conn);
    grant_operator(tx, schema, cluster, role);
    tx.commit();
    std::cout << "operator role " << role
              << ": status, history, pause, resume, switchover, restart, remove and failover "
              << "for cluster " << cluster << " only\n";
}

// The dashboard (webapp/): read the cluster through the schema's functions (cluster_status,
// pause_state: they run with the caller's rights, so these grants and the row-level security
// below still decide), and request terminate commands for its own cluster through
// request_command, nothing more. The prices table is not the daemon's: `python -m webapp
// grant-role` grants it.
void grant_dashboard_role(pqxx::connection& conn, const std::string& schema,
                          const std::string& cluster, const std::string& role) {
    pqxx::work tx(conn);
    start_limited_grant(tx, schema, role, "--dashboard-role");
    const std::string s = db::quoted(schema);
    const std::string d = tx.quote_name(role);
    const std::string c = tx.quote(cluster);
    tx.exec("GRANT SELECT ON " + s + ".lease, " + s + ".nodes, " + s + ".events TO " + d);
    // Only the columns a requester may set; request_command reads the id back with currval.
    tx.exec("GRANT INSERT (cluster, kind, target, requested_by, for_holder, for_term) ON " + s +
            ".commands TO " + d);
    tx.exec("GRANT USAGE ON SEQUENCE " + s + ".commands_id_seq TO " + d);
    tx.exec("GRANT SELECT ON " + s + ".pause TO " + d);
    // One policy name per role and table, as the dashboard's grant-role named them before.
    const std::string terminate = tx.quote_name(("dashboard_terminate_" + role).substr(0, 63));
    tx.exec("DROP POLICY IF EXISTS " + terminate + " ON " + s + ".commands");
    tx.exec("CREATE POLICY " + terminate + " ON " + s + ".commands FOR INSERT TO " + d +
            " WITH CHECK (kind = 'terminate' AND cluster = " + c + ")");
    const std::string pause = tx.quote_name(("dashboard_pause_" + role).substr(0, 63));
    tx.exec("DROP POLICY IF EXISTS " + pause + " ON " + s + ".pause");
    tx.exec("CREATE POLICY " + pause + " ON " + s + ".pause FOR SELECT TO " + d +
            " USING (cluster = " + c + ")");
    tx.commit();
    std::cout << "dashboard role " << role << ": reads cluster " << cluster
              << " and may request terminate for it only\n";
}

}  // namespace

int cmd_init_db(const config::Config& c, const std::optional<std::string>& conninfo,
                const std::optional<std::string>& daemon_role,
                const std::optional<std::string>& operator_role,
                const std::optional<std::string>& dashboard_role) {
    try {
        auto conn = db::open_connection(conninfo.value_or(c.database.conninfo),
                                        c.database.connect_timeout, k_admin_statement_timeout);
        const std::string& schema = c.database.schema;
        if (!daemon_role) {
            const int n = db::migrate(*conn, schema);
            std::cout << "schema " << schema << ": applied " << n
                      << " migration(s), now at version " << db::latest_schema_version() << "\n";
            if (operator_role)
                grant_operator_role(*conn, schema, c.cluster, *operator_role);
            if (dashboard_role)
                grant_dashboard_role(*conn, schema, c.cluster, *dashboard_role);
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
            // Nobody else uses the schema unless granted (--operator-role, --dashboard-role).
            tx.exec("REVOKE ALL ON SCHEMA " + db::quoted(schema) + " FROM PUBLIC");
            take_from_daemon(tx, schema, role);
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
            db::FencingSql({schema, c.cluster}).install(*conn, c.fence_roles, role);
            std::cout << "fencing: " << schema << "." << db::fencing_function(c.cluster)
                      << " may change LOGIN of";
            for (const auto& [node, r] : c.fence_roles)
                std::cout << " " << r;
            std::cout << " for the lease holder; EXECUTE granted to " << role << " only\n";
        }
        if (operator_role)
            grant_operator_role(*conn, schema, c.cluster, *operator_role);
        if (dashboard_role)
            grant_dashboard_role(*conn, schema, c.cluster, *dashboard_role);
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
                                        c.database.connect_timeout, k_admin_statement_timeout);
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
