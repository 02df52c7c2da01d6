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

void install_fencing(pqxx::connection& c, const std::string& schema, const std::string& cluster,
                     const std::map<std::string, std::string>& roles,
                     const std::string& daemon_role) {
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
    const std::string fn = quoted(schema) + "." + quoted(fencing_function(cluster));
    const std::string map_literal = tx.quote(nlohmann::json(roles).dump());
    const std::string cluster_literal = tx.quote(cluster);
    // Everything the function may touch is fixed here, by the administrator: the roles come
    // from a literal, never from a table the daemon could rewrite.
    tx.exec("CREATE OR REPLACE FUNCTION " + fn +
            "(p_node text, p_term bigint, p_terminate boolean) RETURNS integer"
            " LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$\n"
            "DECLARE\n"
            "    roles constant jsonb := " +
            map_literal +
            "::jsonb;\n"
            "    mine text := roles ->> p_node;\n"
            "    r text;\n"
            "    n integer := 0;\n"
            "BEGIN\n"
            "    IF mine IS NULL THEN\n"
            "        RAISE EXCEPTION 'node % has no role in fencing.database_roles', p_node;\n"
            "    END IF;\n"
            "    PERFORM 1 FROM " +
            quoted(schema) + ".lease WHERE cluster = " + cluster_literal +
            " AND holder = p_node AND term = p_term AND expires_at > clock_timestamp()"
            " FOR UPDATE;\n"
            "    IF NOT FOUND THEN\n"
            "        RAISE EXCEPTION 'lost the lease before fencing';\n"
            "    END IF;\n"
            "    FOR r IN SELECT value FROM jsonb_each_text(roles) WHERE key <> p_node LOOP\n"
            "        IF p_terminate THEN\n"
            "            PERFORM pg_terminate_backend(pid) FROM pg_stat_activity\n"
            "             WHERE usename = r AND pid <> pg_backend_pid();\n"
            "        ELSE\n"
            "            EXECUTE format('ALTER ROLE %I NOLOGIN', r);\n"
            "        END IF;\n"
            "        n := n + 1;\n"
            "    END LOOP;\n"
            "    IF NOT p_terminate THEN\n"
            "        EXECUTE format('ALTER ROLE %I LOGIN', mine);\n"
            "    END IF;\n"
            "    RETURN n;\n"
            "END $fn$");
    tx.exec("COMMENT ON FUNCTION " + fn + "(text, bigint, boolean) IS " +
            tx.quote("airflow-failover database fencing for cluster " + cluster +
                     " (installed by init-db)"));
    tx.exec("REVOKE ALL ON FUNCTION " + fn + "(text, bigint, boolean) FROM PUBLIC");
    tx.exec("GRANT EXECUTE ON FUNCTION " + fn + "(text, bigint, boolean) TO " +
            tx.quote_name(daemon_role));
    tx.commit();
}

bool fencing_function_usable(pqxx::connection& c, const std::string& schema,
                             const std::string& cluster) {
    pqxx::nontransaction tx(c);
    const auto r = tx.exec_params(
        "SELECT has_function_privilege(p.oid, 'EXECUTE') FROM pg_proc p"
        " JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = $1 AND p.proname = $2",
        schema, fencing_function(cluster));
    return !r.empty() && r[0][0].as<bool>();
}

}  // namespace af::db
