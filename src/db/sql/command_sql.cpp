#include "af/db/command_sql.hpp"

#include <pqxx/pqxx>

#include "af/db/connection.hpp"

namespace af::db {

CommandSql::CommandSql(Scope scope, std::string node_id)
    : scope_(std::move(scope)), node_id_(std::move(node_id)) {}

std::optional<Command> CommandSql::take(pqxx::connection& c,
                                        std::vector<std::string>* stale) const {
    const std::string t = quoted(scope_.schema) + ".commands";
    const std::string my_term = "(SELECT term FROM " + quoted(scope_.schema) +
                                ".lease WHERE cluster = $1 AND holder = $2"
                                " AND expires_at > clock_timestamp())";
    const std::string holding = "EXISTS " + my_term;
    pqxx::nontransaction tx(c);
    tx.exec_params("UPDATE " + t +
                       " SET taken_by = $2, taken_at = clock_timestamp(), done_at = "
                       "clock_timestamp(), result = 'expired: not taken within 30 s'"
                       " WHERE cluster = $1 AND taken_at IS NULL"
                       " AND coalesce(not_before, requested_at) < clock_timestamp()"
                       " - interval '30 seconds' AND " +
                       holding,
                   scope_.cluster, node_id_);
    // A command meant for another holder, or for another term of ours, is never carried out:
    // the operator aimed at a node (a scheduler) that is no longer the one running. It is
    // closed as stale, with the reason, and the reason goes to the events log too (the
    // dashboard shows events; it may not read commands).
    const auto st = tx.exec_params(
        "WITH me AS " + my_term + ", stale AS (UPDATE " + t +
            " c SET taken_by = $2, taken_at = clock_timestamp(), done_at = clock_timestamp(),"
            " result = 'stale: meant for ' || coalesce(c.for_holder, 'no holder') ||"
            " coalesce(' in term ' || c.for_term, '') || ', but ' || $2 ||"
            " ' holds the lease in term ' || me.term"
            " FROM me WHERE c.cluster = $1 AND c.taken_at IS NULL"
            " AND (c.for_holder IS DISTINCT FROM $2 OR c.for_term IS DISTINCT FROM me.term)"
            " RETURNING c.id, c.kind, c.result, me.term)"
            " INSERT INTO " +
            quoted(scope_.schema) +
            ".events (cluster, node_id, term, kind, detail)"
            " SELECT $1, $2, term, 'command_stale', kind || ' command ' || id || ' ' || result"
            " FROM stale RETURNING detail",
        scope_.cluster, node_id_);
    if (stale)
        for (const auto& row : st)
            stale->push_back(row[0].as<std::string>());
    const auto r =
        tx.exec_params("UPDATE " + t +
                           " c SET taken_by = $2, taken_at = clock_timestamp() WHERE c.id = ("
                           "SELECT id FROM " +
                           t +
                           " WHERE cluster = $1 AND taken_at IS NULL AND for_holder = $2"
                           " AND for_term = " +
                           my_term +
                           // A scheduled switchover (switchover --at) waits for its time.
                           " AND (not_before IS NULL OR not_before <= clock_timestamp())"
                           " ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED)" +
                           " RETURNING id, kind, target, requested_by",
                       scope_.cluster, node_id_);
    if (r.empty())
        return std::nullopt;
    Command cmd;
    cmd.id = r[0][0].as<std::int64_t>();
    cmd.kind = r[0][1].as<std::string>();
    if (!r[0][2].is_null())
        cmd.target = r[0][2].as<std::string>();
    cmd.requested_by = r[0][3].as<std::string>();
    return cmd;
}

void CommandSql::finish(pqxx::connection& c, std::int64_t id, const std::string& result) const {
    pqxx::nontransaction tx(c);
    tx.exec_params("UPDATE " + quoted(scope_.schema) +
                       ".commands SET done_at = clock_timestamp(), result = $2 WHERE id = $1",
                   static_cast<long long>(id), result);
}

std::optional<std::int64_t> CommandSql::insert(
    pqxx::connection& c, const std::string& kind, const std::optional<std::string>& target,
    const std::string& requested_by, const std::optional<CommandTarget>& meant_for) const {
    pqxx::nontransaction tx(c);
    const auto r = tx.exec_params(
        "SELECT " + quoted(scope_.schema) +
            ".request_command($1, $2, NULLIF($3, ''), $4, NULLIF($5, ''), NULLIF($6, -1))",
        scope_.cluster, kind, target.value_or(""), requested_by,
        meant_for ? meant_for->holder : std::string(),
        static_cast<long long>(meant_for ? meant_for->term : -1));
    if (r[0][0].is_null())
        return std::nullopt;
    return r[0][0].as<std::int64_t>();
}

std::optional<std::string> CommandSql::result(pqxx::connection& c, std::int64_t id) const {
    pqxx::nontransaction tx(c);
    const auto r = tx.exec_params("SELECT result FROM " + quoted(scope_.schema) +
                                      ".commands WHERE id = $1 AND done_at IS NOT NULL",
                                  static_cast<long long>(id));
    if (r.empty() || r[0][0].is_null())
        return std::nullopt;
    return r[0][0].as<std::string>();
}

}  // namespace af::db
