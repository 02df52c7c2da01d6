#include "af/db/lease_sql.hpp"

#include <pqxx/pqxx>
#include <stdexcept>
#include <vector>

#include "af/db/connection.hpp"
#include "af/db/fencing_sql.hpp"

namespace af::db {

namespace {
// The server history a statement runs on: the cluster's system identifier (a new initdb, a
// restore into a new cluster) and the timeline of the WAL being written (a promotion, a
// point-in-time recovery). Both are readable by any role (checked as the daemon's role in
// tests/integration/test_db_roles.py, whose daemon runs as the role init-db made).
constexpr const char* server_stamp_sql =
    "(SELECT system_identifier::text FROM pg_control_system()) || '/' || "
    "substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8)";
}  // namespace

// Expiry uses clock_timestamp(), the database's live clock: now() is frozen at the start of the
// transaction and would let a statement that waited on the row lock judge expiry in the past.
//
// Acquire is one INSERT .. ON CONFLICT DO UPDATE .. WHERE: the row lock serializes concurrent
// claims and the WHERE is re-checked on the newest row version, so exactly one claimant of an
// expired lease wins. When it loses, the second branch reports who holds the lease and for how
// long (from the statement's snapshot; a racing winner shows up on the next try).
// While the cluster is paused (maintenance mode, docs/operations.md) nobody wins: the pause is
// part of the compare-and-set, so a standby that has not yet heard of it cannot take over.
void durable_lease_session(pqxx::connection& c) {
    pqxx::nontransaction tx(c);
    tx.exec(
        "SELECT set_config('synchronous_commit', 'on', false)"
        " WHERE current_setting('synchronous_commit') IN ('off', 'local')");
}

LeaseSql::LeaseSql(Scope scope, std::string node_id)
    : scope_(std::move(scope)), node_id_(std::move(node_id)) {
    const std::string t = quoted(scope_.schema) + ".lease";
    // `prev` reads the row as it was before this statement (a CTE sees the statement's
    // snapshot), to tell the winner who held the term before. If another claimant changed the
    // row in between, the terms do not line up and the previous holder is reported unknown.
    // A won term also says whether the one before ended by an accepted switchover: its holder
    // records the `switchover` row when it accepts, before it stops its processes and
    // releases, so the row is there when the lease is free (it only tells the metrics a
    // switchover from a failover; the index on (cluster, at) bounds the look-up to a day).
    //
    // An expiry is only judged on the server history that wrote it (docs/design.md, "The lease
    // across a database failover"): a promoted replica may have missed the last renewals, and
    // its clock is not the old primary's. A live lease stamped by another history is therefore
    // not taken: `restamped` gives it a full TTL on this server's clock, same holder and term,
    // and the claimant loses. `restamped` runs only once `won` has (it reads it), so the two
    // never touch the row in the same statement.
    acquire_sql_ = R"sql(
WITH cur AS (
    SELECT )sql" + std::string(server_stamp_sql) +
                   R"sql( AS stamp
), prev AS (
    SELECT term, holder, coalesce(last_holder, holder) AS last_holder
      FROM )sql" + t +
                   R"sql( WHERE cluster = $1
), won AS (
    INSERT INTO )sql" +
                   t + R"sql( AS l (cluster, holder, term, expires_at, acquired_at, renewed_at,
                        last_holder, server_stamp)
    SELECT $1, $2, GREATEST($4::bigint, 0) + 1,
           clock_timestamp() + $3::bigint * interval '1 millisecond',
           clock_timestamp(), clock_timestamp(), $2, cur.stamp
      FROM cur
     WHERE NOT EXISTS (SELECT 1 FROM )sql" +
                   quoted(scope_.schema) + R"sql(.pause z WHERE z.cluster = $1
                         AND (z.expires_at IS NULL OR z.expires_at > clock_timestamp()))
    ON CONFLICT (cluster) DO UPDATE
        SET holder = EXCLUDED.holder,
            term = GREATEST(l.term, $4::bigint) + 1,
            expires_at = EXCLUDED.expires_at,
            acquired_at = EXCLUDED.acquired_at,
            renewed_at = EXCLUDED.renewed_at,
            reserved_for = NULL,
            reserved_until = NULL,
            last_holder = EXCLUDED.holder,
            server_stamp = EXCLUDED.server_stamp
        WHERE (l.holder IS NULL OR (l.expires_at <= clock_timestamp()
                                    AND l.server_stamp = EXCLUDED.server_stamp))
          AND (l.reserved_for IS NULL OR l.reserved_for = $2
               OR l.reserved_until <= clock_timestamp())
    RETURNING l.term, l.holder
), restamped AS (
    UPDATE )sql" + t +
                   R"sql( AS l
       SET server_stamp = cur.stamp,
           expires_at = clock_timestamp() + $3::bigint * interval '1 millisecond'
      FROM cur
     WHERE l.cluster = $1 AND l.holder IS NOT NULL
       AND l.server_stamp IS DISTINCT FROM cur.stamp
       AND NOT EXISTS (SELECT 1 FROM won)
    RETURNING l.term, l.holder
)
SELECT true, won.term, won.holder, 0::bigint,
       (SELECT p.last_holder FROM prev p WHERE p.term = won.term - 1),
       coalesce((SELECT p.holder IS NULL FROM prev p WHERE p.term = won.term - 1), false),
       EXISTS (SELECT 1 FROM )sql" +
                   quoted(scope_.schema) + R"sql(.events e
                WHERE e.cluster = $1 AND e.at > clock_timestamp() - interval '1 day'
                  AND e.term = won.term - 1 AND e.kind = 'switchover')
  FROM won
UNION ALL
SELECT false, term, holder, $3::bigint, NULL::text, false, false FROM restamped
UNION ALL
SELECT false, term, coalesce(holder, reserved_for),
       GREATEST(0, ceil(extract(epoch FROM
           GREATEST(expires_at, CASE WHEN reserved_for <> $2 THEN reserved_until END)
           - clock_timestamp()) * 1000))::bigint,
       NULL::text, false, false
  FROM )sql" + t + R"sql( WHERE cluster = $1 AND NOT EXISTS (SELECT 1 FROM won)
                   AND NOT EXISTS (SELECT 1 FROM restamped))sql";

    held_sql_ = "SELECT 1 FROM " + t +
                " WHERE cluster = $1 AND holder = $2 AND term = $3"
                " AND expires_at > clock_timestamp() FOR UPDATE";

    // The holder renews in its term also when the row carries another history's stamp, even
    // expired there: a claim on this history would have re-stamped the row first, so nobody
    // else can hold it here, and the holder only renews before its own deadline. This is how
    // an active that reaches the promoted server in time keeps its scheduler.
    renew_sql_ = "WITH cur AS (SELECT " + std::string(server_stamp_sql) + " AS stamp) UPDATE " + t +
                 " AS l SET expires_at = clock_timestamp() + $4::bigint * interval '1 millisecond',"
                 " renewed_at = clock_timestamp(), server_stamp = cur.stamp FROM cur"
                 " WHERE l.cluster = $1 AND l.holder = $2 AND l.term = $3"
                 " AND (l.expires_at > clock_timestamp()"
                 " OR l.server_stamp IS DISTINCT FROM cur.stamp) RETURNING l.term";

    // pg_notify is transactional: listeners hear of the release only once it is committed.
    // A switchover reserves the free lease for its target for one TTL; the reservation is part
    // of the compare-and-set above, so it holds even if a datagram or NOTIFY is lost.
    release_sql_ = "WITH r AS (UPDATE " + t +
                   " SET holder = NULL, expires_at = clock_timestamp(),"
                   " reserved_for = NULLIF($5, ''),"
                   " reserved_until = CASE WHEN $5 <> '' THEN clock_timestamp() +"
                   " $6::bigint * interval '1 millisecond' END"
                   " WHERE cluster = $1 AND holder = $2 AND term = $3 RETURNING term)"
                   " SELECT term, pg_notify($4, $1 || ':released:' || term || ':' || $5) FROM r";
}

void LeaseSql::fence(pqxx::connection& c, std::int64_t term,
                     const std::map<std::string, std::string>& roles) const {
    // With init-db's SECURITY DEFINER function the daemon needs no CREATEROLE. The function
    // trusts nothing of ours, so the lease is checked here, as ourselves, holding the row lock
    // across the call; the sessions are ended after the commit, so a terminated client that
    // reconnects at once finds its LOGIN gone.
    if (FencingSql(scope_).usable(c)) {
        const std::string fn =
            quoted(scope_.schema) + "." + quoted(fencing_function(scope_.cluster));
        {
            pqxx::work tx(c);
            if (tx.exec_params(held_sql_, scope_.cluster, node_id_, static_cast<long long>(term))
                    .empty())
                throw std::runtime_error("lost the lease before fencing");
            tx.exec_params("SELECT " + fn + "($1, $2, false)", node_id_,
                           static_cast<long long>(term));
            tx.commit();
        }
        pqxx::nontransaction tx(c);
        tx.exec_params("SELECT " + fn + "($1, $2, true)", node_id_, static_cast<long long>(term));
        return;
    }
    // Without it (no init-db by an administrator): directly, which needs CREATEROLE.
    std::vector<std::string> others;
    {
        pqxx::work tx(c);
        // Holding the row lock keeps the term ours for the whole transaction.
        const auto held =
            tx.exec_params(held_sql_, scope_.cluster, node_id_, static_cast<long long>(term));
        if (held.empty())
            throw std::runtime_error("lost the lease before fencing");
        for (const auto& [node, role] : roles) {
            if (node == node_id_)
                continue;
            tx.exec("ALTER ROLE " + tx.quote_name(role) + " NOLOGIN");
            others.push_back(role);
        }
        tx.exec("ALTER ROLE " + tx.quote_name(roles.at(node_id_)) + " LOGIN");
        tx.commit();
    }
    pqxx::nontransaction tx(c);
    for (const auto& role : others)
        tx.exec_params(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE usename = $1 AND pid <> pg_backend_pid()",
            role);
}

AcquireOutcome LeaseSql::acquire(pqxx::connection& c, Duration ttl, std::int64_t min_term) const {
    pqxx::nontransaction tx(c);
    const pqxx::result r =
        tx.exec_params(acquire_sql_, scope_.cluster, node_id_, static_cast<long long>(ttl.count()),
                       static_cast<long long>(min_term));
    AcquireOutcome o;
    // The statement inserts the row or updates it, so it always returns one. No row means
    // something outside this program hides it (a row-level security policy, a trigger): a
    // failure to report, not a lost election (docs/design.md, "Errors").
    if (r.empty())
        throw std::runtime_error("acquire returned no lease row for cluster " + scope_.cluster +
                                 " (a row-level security policy or trigger on " + scope_.schema +
                                 ".lease?)");
    o.won = r[0][0].as<bool>();
    o.term = r[0][1].as<std::int64_t>();
    if (!r[0][2].is_null())
        o.holder = r[0][2].as<std::string>();
    o.remaining = Duration{r[0][3].as<long long>()};
    if (o.won && !r[0][4].is_null()) {
        o.previous_holder = r[0][4].as<std::string>();
        o.previous_released = r[0][5].as<bool>();
    }
    o.after_switchover = o.won && r[0][6].as<bool>();
    return o;
}

bool LeaseSql::renew(pqxx::connection& c, std::int64_t term, Duration ttl) const {
    pqxx::nontransaction tx(c);
    return !tx.exec_params(renew_sql_, scope_.cluster, node_id_, static_cast<long long>(term),
                           static_cast<long long>(ttl.count()))
                .empty();
}

bool LeaseSql::release(pqxx::connection& c, std::int64_t term, const std::string& reserved_for,
                       Duration reservation) const {
    pqxx::nontransaction tx(c);
    return !tx.exec_params(release_sql_, scope_.cluster, node_id_, static_cast<long long>(term),
                           scope_.schema, reserved_for, static_cast<long long>(reservation.count()))
                .empty();
}

}  // namespace af::db
