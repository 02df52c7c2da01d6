#include "af/db/scheduled_sql.hpp"

#include <pqxx/pqxx>

#include "af/db/connection.hpp"

namespace af::db {

namespace {

constexpr const char* k_scheduled_columns =
    "id, target, requested_by,"
    " to_char(not_before AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'),"
    " floor(extract(epoch FROM not_before - clock_timestamp()) * 1000)::bigint,"
    " coalesce(for_holder, ''), coalesce(for_term, 0)";

std::vector<ScheduledSwitchover> from_rows(const pqxx::result& r) {
    std::vector<ScheduledSwitchover> out;
    for (const auto& row : r) {
        ScheduledSwitchover s;
        s.id = row[0].as<std::int64_t>();
        if (!row[1].is_null())
            s.target = row[1].as<std::string>();
        s.requested_by = row[2].as<std::string>();
        s.at = row[3].as<std::string>();
        s.in_ms = row[4].as<std::int64_t>();
        s.for_holder = row[5].as<std::string>();
        s.for_term = row[6].as<std::int64_t>();
        out.push_back(std::move(s));
    }
    return out;
}

// Pending (not taken), waiting for a time: what --cancel closes and status lists.
constexpr const char* k_waiting =
    " WHERE cluster = $1 AND kind = 'switchover' AND taken_at IS NULL AND not_before IS NOT NULL";

}  // namespace

nlohmann::json ScheduledSwitchover::to_json() const {
    return {{"id", id},
            {"target", target ? nlohmann::json(*target) : nlohmann::json(nullptr)},
            {"requested_by", requested_by},
            {"at", at},
            {"in_ms", in_ms},
            {"for_holder", for_holder},
            {"for_term", for_term}};
}

ScheduledSwitchover ScheduledSql::schedule(pqxx::connection& c,
                                           const std::optional<std::string>& target,
                                           const std::string& requested_by,
                                           const CommandTarget& meant_for,
                                           std::optional<std::int64_t> in_ms,
                                           const std::optional<std::string>& iso) const {
    pqxx::work tx(c);
    // The time is judged on the database clock, the clock the daemons' take() compares with.
    const auto when = tx.exec_params(
        "SELECT CASE WHEN $1::bigint >= 0 THEN clock_timestamp() + $1::bigint * interval '1 "
        "millisecond' ELSE NULLIF($2, '')::timestamptz END AS t",
        static_cast<long long>(in_ms.value_or(-1)), iso.value_or(""));
    const std::string t = when[0][0].as<std::string>();
    const auto ahead = tx.exec_params(
        "SELECT $1::timestamptz > clock_timestamp(),"
        " to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')",
        t);
    if (!ahead[0][0].as<bool>())
        throw NotInFuture("the time " + iso.value_or(t) +
                          " is not ahead of the database clock (now " +
                          ahead[0][1].as<std::string>() + ")");
    const auto r = tx.exec_params(
        "INSERT INTO " + quoted(scope_.schema) +
            ".commands (cluster, kind, target, requested_by, for_holder, for_term, not_before)"
            " VALUES ($1, 'switchover', NULLIF($2, ''), $3, $4, $5, $6::timestamptz)"
            " RETURNING " +
            std::string(k_scheduled_columns),
        scope_.cluster, target.value_or(""), requested_by, meant_for.holder,
        static_cast<long long>(meant_for.term), t);
    tx.commit();
    return from_rows(r).at(0);
}

std::vector<ScheduledSwitchover> ScheduledSql::waiting(pqxx::connection& c) const {
    const std::string& schema = scope_.schema;
    const std::string& cluster = scope_.cluster;
    pqxx::nontransaction tx(c);
    return from_rows(tx.exec_params(std::string("SELECT ") + k_scheduled_columns + " FROM " +
                                        quoted(schema) + ".commands" + k_waiting +
                                        " ORDER BY not_before, id",
                                    cluster));
}

std::vector<ScheduledSwitchover> ScheduledSql::cancel(pqxx::connection& c,
                                                      const std::string& by) const {
    const std::string& schema = scope_.schema;
    const std::string& cluster = scope_.cluster;
    pqxx::nontransaction tx(c);
    return from_rows(
        tx.exec_params("UPDATE " + quoted(schema) +
                           ".commands SET taken_by = $2, taken_at = clock_timestamp(), done_at = "
                           "clock_timestamp(), result = 'cancelled by ' || $2" +
                           k_waiting + " RETURNING " + k_scheduled_columns,
                       cluster, by));
}

std::optional<std::int64_t> ScheduledSql::next_due_ms(pqxx::connection& c,
                                                      const std::string& node_id) const {
    const std::string& schema = scope_.schema;
    const std::string& cluster = scope_.cluster;
    pqxx::nontransaction tx(c);
    const auto r = tx.exec_params(
        "SELECT ceil(extract(epoch FROM min(not_before) - clock_timestamp()) * 1000)::bigint"
        " FROM " +
            quoted(schema) + ".commands" + k_waiting + " AND for_holder = $2",
        cluster, node_id);
    if (r.empty() || r[0][0].is_null())
        return std::nullopt;
    return r[0][0].as<std::int64_t>();
}

}  // namespace af::db
