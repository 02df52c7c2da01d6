#include "af/db/fencing_sql.hpp"

#include <cstdint>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>
#include <stdexcept>

#include "af/db/connection.hpp"

namespace af::db {

std::string fencing_function(const std::string& cluster) {
    // FNV-1a: a short, stable name whatever the cluster name's length and characters.
    std::uint64_t h = 14695981039346656037ULL;
    for (unsigned char ch : cluster) {
        h ^= ch;
        h *= 1099511628211ULL;
    }
    char buf[40];
    std::snprintf(buf, sizeof buf, "fence_%016llx", static_cast<unsigned long long>(h));
    return buf;
}

namespace {

// The function runs with the administrator's rights, so it must read nothing the daemon's role
// owns or can replace (issue 22: a view named `lease` in a schema the daemon owned ran its
// WHERE as the administrator). It reads one row of this administrator-owned table, keyed by a
// literal fixed at install time, and every name in its body is schema-qualified under
// `search_path = pg_catalog, pg_temp`. The daemon checks it holds the lease itself, as itself,
// before it calls; the table's term only keeps a stale caller from fencing a newer one.
std::string function_body(const std::string& state, const std::string& cluster_literal) {
    return "DECLARE\n"
           "    v_roles jsonb;\n"
           "    v_term bigint;\n"
           "    v_node text;\n"
           "    v_mine text;\n"
           "    r text;\n"
           "    n integer := 0;\n"
           "BEGIN\n"
           "    SELECT f.roles, f.term, f.node INTO v_roles, v_term, v_node FROM " +
           state + " f WHERE f.cluster = " + cluster_literal +
           " FOR UPDATE;\n"
           "    IF NOT FOUND THEN\n"
           "        RAISE EXCEPTION 'no fencing set up for this cluster (run init-db)';\n"
           "    END IF;\n"
           "    v_mine := v_roles ->> p_node;\n"
           "    IF v_mine IS NULL THEN\n"
           "        RAISE EXCEPTION 'node % has no role in fencing.database_roles', p_node;\n"
           "    END IF;\n"
           "    IF p_term < v_term OR (p_term = v_term AND v_node IS DISTINCT FROM p_node) THEN\n"
           "        RAISE EXCEPTION 'term % of % is not newer than term % of %, fenced already',\n"
           "            p_term, p_node, v_term, v_node;\n"
           "    END IF;\n"
           "    IF p_terminate AND (p_term <> v_term OR v_node IS DISTINCT FROM p_node) THEN\n"
           "        RAISE EXCEPTION 'term % of % has not revoked LOGIN yet', p_term, p_node;\n"
           "    END IF;\n"
           "    IF NOT p_terminate THEN\n"
           "        UPDATE " +
           state +
           " SET term = p_term, node = p_node, fenced_at = clock_timestamp() WHERE cluster = " +
           cluster_literal +
           ";\n"
           "    END IF;\n"
           "    FOR r IN SELECT e.value FROM pg_catalog.jsonb_each_text(v_roles) e\n"
           "              WHERE e.key <> p_node LOOP\n"
           "        IF p_terminate THEN\n"
           "            PERFORM pg_catalog.pg_terminate_backend(a.pid) FROM "
           "pg_catalog.pg_stat_activity a\n"
           "             WHERE a.usename = r AND a.pid <> pg_catalog.pg_backend_pid();\n"
           "        ELSE\n"
           "            EXECUTE pg_catalog.format('ALTER ROLE %I NOLOGIN', r);\n"
           "        END IF;\n"
           "        n := n + 1;\n"
           "    END LOOP;\n"
           "    IF NOT p_terminate THEN\n"
           "        EXECUTE pg_catalog.format('ALTER ROLE %I LOGIN', v_mine);\n"
           "    END IF;\n"
           "    RETURN n;\n"
           "END ";
}

}  // namespace

void FencingSql::install(pqxx::connection& c, const std::map<std::string, std::string>& roles,
                         const std::string& daemon_role) const {
    const std::string& schema = scope_.schema;
    const std::string& cluster = scope_.cluster;
    pqxx::work tx(c);
    for (const auto& [node, role] : roles) {
        if (role == daemon_role)
            throw std::runtime_error("fencing.database_roles." + node + ": role " + role +
                                     " is the daemon's own role; Airflow needs its own");
        const auto r = tx.exec_params("SELECT rolsuper FROM pg_roles WHERE rolname = $1", role);
        if (!r.empty() && r[0][0].as<bool>())
            throw std::runtime_error("fencing.database_roles." + node + ": role " + role +
                                     " is a superuser, which cannot be fenced");
    }
    const auto owner = tx.exec_params(
        "SELECT pg_get_userbyid(n.nspowner) = current_user FROM pg_namespace n WHERE nspname = $1",
        schema);
    if (owner.empty() || !owner[0][0].as<bool>())
        throw std::runtime_error("schema " + schema +
                                 " is not owned by the administrator running init-db; the "
                                 "fencing function may read only what its caller cannot replace");
    const std::string state = quoted(schema) + ".fencing";
    // A table of that name the daemon made (it may create in the schema) is not trusted: it
    // would hand the function state the daemon chose.
    const auto existing = tx.exec_params(
        "SELECT pg_get_userbyid(c.relowner) = current_user AND c.relkind = 'r' FROM pg_class c"
        " JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1"
        " AND c.relname = 'fencing'",
        schema);
    if (!existing.empty() && !existing[0][0].as<bool>())
        throw std::runtime_error(state +
                                 " exists but is not a table of the administrator "
                                 "running init-db (the daemon's role may have made it); "
                                 "drop it and run init-db again");
    tx.exec("CREATE TABLE IF NOT EXISTS " + state +
            " (cluster text PRIMARY KEY, roles jsonb NOT NULL, term bigint NOT NULL DEFAULT 0,"
            " node text, fenced_at timestamptz)");
    tx.exec("REVOKE ALL ON " + state + " FROM PUBLIC");
    // The roles travel as a bound parameter: no name, however odd, reaches the SQL text.
    tx.exec_params("INSERT INTO " + state +
                       " (cluster, roles) VALUES ($1, $2::jsonb)"
                       " ON CONFLICT (cluster) DO UPDATE SET roles = EXCLUDED.roles",
                   cluster, nlohmann::json(roles).dump());

    const std::string fn = quoted(schema) + "." + quoted(fencing_function(cluster));
    const std::string body = function_body(state, tx.quote(cluster));
    // The body is ours but for the cluster's quoted literal; refuse rather than let a name
    // close the dollar quote.
    if (body.find("$fn$") != std::string::npos)
        throw std::runtime_error("cluster name " + cluster + " contains $fn$");
    // Dropped, not replaced: CREATE OR REPLACE keeps the owner of a function the daemon's role
    // may have made under that name.
    tx.exec("DROP FUNCTION IF EXISTS " + fn + "(text, bigint, boolean)");
    tx.exec("CREATE FUNCTION " + fn +
            "(p_node text, p_term bigint, p_terminate boolean) RETURNS integer"
            " LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$\n" +
            body + "$fn$");
    tx.exec("COMMENT ON FUNCTION " + fn + "(text, bigint, boolean) IS " +
            tx.quote("airflow-failover database fencing for cluster " + cluster +
                     " (installed by init-db)"));
    tx.exec("REVOKE ALL ON FUNCTION " + fn + "(text, bigint, boolean) FROM PUBLIC");
    tx.exec("GRANT EXECUTE ON FUNCTION " + fn + "(text, bigint, boolean) TO " +
            tx.quote_name(daemon_role));
    tx.commit();
}

bool FencingSql::usable(pqxx::connection& c) const {
    pqxx::nontransaction tx(c);
    const auto r = tx.exec_params(
        "SELECT has_function_privilege(p.oid, 'EXECUTE') FROM pg_proc p"
        " JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = $1 AND p.proname = $2",
        scope_.schema, fencing_function(scope_.cluster));
    return !r.empty() && r[0][0].as<bool>();
}

}  // namespace af::db
