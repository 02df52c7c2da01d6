#include "af/db/pause_sql.hpp"

#include <pqxx/pqxx>

#include "af/db/connection.hpp"

namespace af::db {

namespace {

// The columns every statement returns, in Pause's order, from the pause table or the schema's
// pause_state(); "live" is the schema's pause_is_live() (migration 8): false for an expired row.
std::string pause_columns(const std::string& schema) {
    return "paused_by, reason, stop_processes,"
           " to_char(paused_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"
           " to_char(expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"
           " ceil(extract(epoch FROM expires_at - clock_timestamp()) * 1000)::bigint,"
           " for_holder, coalesce(for_term, 0), " +
           quoted(schema) + ".pause_is_live(expires_at)";
}

std::optional<Pause> from_row(const pqxx::result& r) {
    if (r.empty() || !r[0][8].as<bool>())
        return std::nullopt;
    const auto row = r[0];
    Pause p;
    p.paused_by = row[0].as<std::string>();
    p.reason = row[1].as<std::string>();
    p.stop_processes = row[2].as<bool>();
    p.paused_at = row[3].as<std::string>();
    if (!row[4].is_null()) {
        p.expires_at = row[4].as<std::string>();
        p.remaining_ms = std::max<std::int64_t>(0, row[5].as<std::int64_t>());
    }
    if (!row[6].is_null())
        p.for_holder = row[6].as<std::string>();
    p.for_term = row[7].as<std::int64_t>();
    return p;
}

}  // namespace

nlohmann::json Pause::to_json() const {
    auto opt = [](const auto& o) { return o ? nlohmann::json(*o) : nlohmann::json(nullptr); };
    return {{"paused_by", paused_by},           {"reason", reason},
            {"stop_processes", stop_processes}, {"paused_at", paused_at},
            {"expires_at", opt(expires_at)},    {"remaining_ms", opt(remaining_ms)},
            {"for_holder", opt(for_holder)},    {"for_term", for_term}};
}

std::optional<Pause> PauseSql::read(pqxx::connection& c) const {
    const std::string& schema = scope_.schema;
    const std::string& cluster = scope_.cluster;
    pqxx::nontransaction tx(c);
    return from_row(tx.exec_params(
        "SELECT " + pause_columns(schema) + " FROM " + quoted(schema) + ".pause_state($1)",
        cluster));
}

Pause PauseSql::set(pqxx::connection& c, const std::string& by, const std::string& reason,
                    bool stop_processes, std::optional<std::int64_t> expires_in_ms) const {
    const std::string& schema = scope_.schema;
    const std::string& cluster = scope_.cluster;
    pqxx::nontransaction tx(c);
    // -1 milliseconds: no expiry (NULL). The expiry counts on the database clock, like the lease.
    const auto r = tx.exec_params(
        "INSERT INTO " + quoted(schema) +
            ".pause AS p (cluster, paused_by, reason, stop_processes, expires_at)"
            " VALUES ($1, $2, $3, $4, clock_timestamp() + NULLIF($5::bigint, -1) * interval '1 "
            "millisecond')"
            " ON CONFLICT (cluster) DO UPDATE SET paused_by = EXCLUDED.paused_by,"
            " reason = EXCLUDED.reason, stop_processes = EXCLUDED.stop_processes,"
            " paused_at = clock_timestamp(), expires_at = EXCLUDED.expires_at"
            " RETURNING " +
            pause_columns(schema),
        cluster, by, reason, stop_processes, static_cast<long long>(expires_in_ms.value_or(-1)));
    auto p = from_row(r);
    if (!p)
        throw std::runtime_error("the pause expired as it was set (expiry too short)");
    return *p;
}

LeaseGlance PauseSql::glance_lease(pqxx::connection& c) const {
    const std::string& schema = scope_.schema;
    const std::string& cluster = scope_.cluster;
    pqxx::nontransaction tx(c);
    const auto r = tx.exec_params(
        "SELECT holder, term, floor(extract(epoch FROM expires_at - clock_timestamp()) * "
        "1000)::bigint FROM " +
            quoted(schema) +
            ".lease WHERE cluster = $1 AND holder IS NOT NULL AND expires_at > clock_timestamp()",
        cluster);
    if (r.empty())
        return {};
    return {r[0][0].as<std::string>(), r[0][1].as<std::int64_t>(), r[0][2].as<std::int64_t>()};
}

std::optional<Pause> PauseSql::clear(pqxx::connection& c) const {
    const std::string& schema = scope_.schema;
    const std::string& cluster = scope_.cluster;
    pqxx::nontransaction tx(c);
    return from_row(tx.exec_params("DELETE FROM " + quoted(schema) +
                                       ".pause WHERE cluster = $1 RETURNING " +
                                       pause_columns(schema),
                                   cluster));
}

}  // namespace af::db
