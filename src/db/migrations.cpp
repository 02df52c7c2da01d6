#include "af/db/migrations.hpp"

#include <pqxx/pqxx>
#include <stdexcept>
#include <vector>

#include "af/db/connection.hpp"
#include "af/db/history_sql.hpp"

namespace af::db {

namespace {

// Rows are only ever added to the events table, but `events prune` may delete rows older than
// the horizon it sets for its own transaction (airflow_failover.prune_before), and never rows
// younger than a day. UPDATE and TRUNCATE stay refused. Whoever sets the horizon still needs
// DELETE on the table, which only its owner has.
constexpr const char* k_events_guard = R"sql(
CREATE OR REPLACE FUNCTION {s}.events_append_only() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
    IF TG_OP = 'DELETE' AND TG_LEVEL = 'ROW' THEN
        IF OLD.at < clock_timestamp() - interval '1 day' AND OLD.at < coalesce(
               nullif(current_setting('airflow_failover.prune_before', true), '')::timestamptz,
               '-infinity') THEN
            RETURN OLD;
        END IF;
    END IF;
    RAISE EXCEPTION 'airflow_failover events are append-only';
END $fn$)sql";

/// Each entry is one version; "{s}" stands for the quoted schema. Never edit a released entry:
/// add a new one.
const std::vector<std::string>& migrations() {
    static const std::vector<std::string> m = {
        // 1: lease, nodes, events
        R"sql(
CREATE TABLE {s}.lease (
    cluster     text PRIMARY KEY,
    holder      text,
    term        bigint NOT NULL DEFAULT 0,
    expires_at  timestamptz NOT NULL DEFAULT '-infinity',
    acquired_at timestamptz,
    renewed_at  timestamptz
);
CREATE TABLE {s}.nodes (
    cluster     text NOT NULL,
    node_id     text NOT NULL,
    role        text NOT NULL,
    state       text NOT NULL DEFAULT '',
    term        bigint NOT NULL DEFAULT 0,
    processes   jsonb NOT NULL DEFAULT '[]',
    hostname    text NOT NULL DEFAULT '',
    version     text NOT NULL DEFAULT '',
    pid         integer,
    incarnation bigint NOT NULL DEFAULT 0,
    started_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    last_seen   timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (cluster, node_id)
);
CREATE TABLE {s}.events (
    id      bigserial PRIMARY KEY,
    cluster text NOT NULL,
    node_id text NOT NULL,
    at      timestamptz NOT NULL DEFAULT clock_timestamp(),
    term    bigint NOT NULL DEFAULT 0,
    kind    text NOT NULL,
    detail  text NOT NULL DEFAULT ''
);
CREATE INDEX events_cluster_at ON {s}.events (cluster, at DESC);
-- The events table is an audit log: rows are only ever added.
CREATE FUNCTION {s}.events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'airflow_failover events are append-only';
END $$;
CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON {s}.events
    FOR EACH ROW EXECUTE FUNCTION {s}.events_append_only();
)sql",
        // 2: peer heartbeats, hand-over reservations, operator commands
        R"sql(
ALTER TABLE {s}.lease
    ADD COLUMN reserved_for   text,
    ADD COLUMN reserved_until timestamptz;
ALTER TABLE {s}.nodes
    ADD COLUMN priority integer NOT NULL DEFAULT 100,
    ADD COLUMN peers    jsonb NOT NULL DEFAULT '{}',
    ADD COLUMN counters jsonb NOT NULL DEFAULT '{}';
CREATE TABLE {s}.commands (
    id           bigserial PRIMARY KEY,
    cluster      text NOT NULL,
    kind         text NOT NULL CHECK (kind IN ('switchover', 'terminate')),
    target       text,
    requested_by text NOT NULL,
    requested_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    taken_by     text,
    taken_at     timestamptz,
    done_at      timestamptz,
    result       text
);
CREATE INDEX commands_pending ON {s}.commands (cluster, id) WHERE taken_at IS NULL;
-- Whoever inserts a command (the CLI, the dashboard) wakes the daemons at once.
CREATE FUNCTION {s}.commands_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify(TG_TABLE_SCHEMA, NEW.cluster || ':command:' || NEW.id);
    RETURN NEW;
END $$;
CREATE TRIGGER commands_notify AFTER INSERT ON {s}.commands
    FOR EACH ROW EXECUTE FUNCTION {s}.commands_notify();
)sql",
        // 3: commands bound to their target; events refuse TRUNCATE; the commands table is
        // row-level secured (the owner, the daemon, is exempt; other roles need a policy).
        R"sql(
ALTER TABLE {s}.commands
    ADD COLUMN for_holder text,
    ADD COLUMN for_term   bigint;
-- A command is meant for the holder and term the requester saw. A requester that does not say
-- gets the live lease's holder and term at insert; with no live lease, nobody (stale).
CREATE FUNCTION {s}.commands_bind() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.for_holder IS NULL THEN
        SELECT l.holder, l.term INTO NEW.for_holder, NEW.for_term FROM {s}.lease l
         WHERE l.cluster = NEW.cluster AND l.expires_at > clock_timestamp();
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER commands_bind BEFORE INSERT ON {s}.commands
    FOR EACH ROW EXECUTE FUNCTION {s}.commands_bind();
-- The row trigger of version 1 does not see TRUNCATE.
CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON {s}.events
    FOR EACH STATEMENT EXECUTE FUNCTION {s}.events_append_only();
ALTER TABLE {s}.commands ENABLE ROW LEVEL SECURITY;
)sql",
        // 4: who held the latest term, kept through a release (holder is NULL then), so the
        // winner of the next term knows whose Airflow jobs to close out (takeover step)
        R"sql(
ALTER TABLE {s}.lease ADD COLUMN last_holder text;
UPDATE {s}.lease SET last_holder = holder;
)sql",
        // 5: maintenance mode (one pause row per cluster) and scheduled switchovers
        R"sql(
CREATE TABLE {s}.pause (
    cluster        text PRIMARY KEY,
    paused_by      text NOT NULL,
    reason         text NOT NULL DEFAULT '',
    stop_processes boolean NOT NULL DEFAULT false,
    paused_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
    expires_at     timestamptz,
    for_holder     text,
    for_term       bigint
);
-- Bound like a command: the pause records the live lease's holder and term when it was set
-- (NULL: nobody held a live lease), so status can say whose term was frozen.
CREATE FUNCTION {s}.pause_bind() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    SELECT l.holder, l.term INTO NEW.for_holder, NEW.for_term FROM {s}.lease l
     WHERE l.cluster = NEW.cluster AND l.expires_at > clock_timestamp();
    RETURN NEW;
END $$;
CREATE TRIGGER pause_bind BEFORE INSERT OR UPDATE ON {s}.pause
    FOR EACH ROW EXECUTE FUNCTION {s}.pause_bind();
-- pause and resume wake every daemon at once, on the channel commands and releases use.
CREATE FUNCTION {s}.pause_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify(TG_TABLE_SCHEMA, coalesce(NEW.cluster, OLD.cluster) || ':pause');
    RETURN NULL;
END $$;
CREATE TRIGGER pause_notify AFTER INSERT OR UPDATE OR DELETE ON {s}.pause
    FOR EACH ROW EXECUTE FUNCTION {s}.pause_notify();
ALTER TABLE {s}.pause ENABLE ROW LEVEL SECURITY;
-- A switchover may wait for a time on the database clock (switchover --at).
ALTER TABLE {s}.commands ADD COLUMN not_before timestamptz;
)sql",
        // 6: the database server history (system identifier/timeline) that judged the lease's
        // expiry last (docs/design.md, "The lease across a database failover")
        R"sql(
ALTER TABLE {s}.lease ADD COLUMN server_stamp text;
)sql",
        // 7: the hostname Airflow records for this node's jobs, so the winner of a term finds
        // the previous holder's jobs without a hostname map in every config (takeover step)
        R"sql(
ALTER TABLE {s}.nodes ADD COLUMN airflow_hostname text NOT NULL DEFAULT '';
)sql",
        // 8: the contract: the rules the CLI, the dashboard, the demo and the benches read the
        // cluster by, each stated once, here (the callers select from these functions). They run
        // with the caller's rights (SECURITY INVOKER), so row-level security and grants still
        // decide what each role sees.
        R"sql(
-- How long this node's row may go unrefreshed before it counts as stale, written by the daemon
-- from its own timings (config::Config::stale_after). NULL: a row from before version 8.
ALTER TABLE {s}.nodes ADD COLUMN stale_after_ms bigint;
-- A pause counts until it expires, on the database clock.
CREATE FUNCTION {s}.pause_is_live(expires_at timestamptz) RETURNS boolean
    LANGUAGE sql VOLATILE AS $$ SELECT $1 IS NULL OR $1 > clock_timestamp() $$;
-- The cluster's live pause, if any (maintenance mode).
CREATE FUNCTION {s}.pause_state(p_cluster text)
    RETURNS TABLE (paused_by text, reason text, stop_processes boolean, paused_at timestamptz,
                   expires_at timestamptz, remaining_ms bigint, for_holder text, for_term bigint)
    LANGUAGE sql VOLATILE AS $$
SELECT p.paused_by, p.reason, p.stop_processes, p.paused_at, p.expires_at,
       -- greatest() skips a NULL: no expiry must stay NULL, not read as 0 ms left
       CASE WHEN p.expires_at IS NOT NULL
            THEN greatest(0, ceil(extract(epoch FROM p.expires_at - clock_timestamp()) * 1000))
            END::bigint,
       p.for_holder, p.for_term
FROM {s}.pause p WHERE p.cluster = p_cluster AND {s}.pause_is_live(p.expires_at)
$$;
-- The whole cluster as `status` and the dashboard show it, on one database clock reading:
--   active             = the lease holder while floor(ms left) > 0, else NULL
--   lease_remaining_ms = max(0, floor(ms left)); 0 for a never-taken (-infinity) lease
--   last_seen_age_ms   = floor(ms since the node row was refreshed)
--   stale_why          = 'not heard from' past the row's own stale_after_ms (before version 8:
--                        the lease's TTL), else 'claims active without a valid lease' for a row
--                        reading active that is not the live holder (a dead holder's row says
--                        active forever: nobody is left to change it), else NULL
--   stale              = stale_why IS NOT NULL
CREATE FUNCTION {s}.cluster_status(p_cluster text) RETURNS json LANGUAGE sql VOLATILE AS $$
WITH clock AS (
    SELECT clock_timestamp() AS now
), lv AS (
    SELECT l.*,
           CASE WHEN isfinite(l.expires_at)
                THEN floor(extract(epoch FROM l.expires_at - clock.now) * 1000)::bigint
                ELSE 0 END AS left_ms,
           CASE WHEN isfinite(l.expires_at) AND l.renewed_at IS NOT NULL
                -- two clock_timestamp() readings of one statement, microseconds apart:
                -- round, do not floor, to get the configured whole milliseconds back
                THEN round(extract(epoch FROM l.expires_at - l.renewed_at) * 1000)::bigint
                END AS ttl_ms
    FROM {s}.lease l, clock
    WHERE l.cluster = p_cluster
), st AS (
    SELECT CASE WHEN lv.holder IS NOT NULL AND lv.left_ms > 0 THEN lv.holder END AS active
    FROM clock LEFT JOIN lv ON true
), nv AS (
    SELECT n.*, a.age_ms,
           CASE WHEN a.age_ms > coalesce(n.stale_after_ms, lv.ttl_ms) THEN 'not heard from'
                WHEN n.role = 'active' AND n.node_id IS DISTINCT FROM st.active
                THEN 'claims active without a valid lease' END AS stale_why
    FROM {s}.nodes n CROSS JOIN clock CROSS JOIN st LEFT JOIN lv ON true,
         LATERAL (SELECT floor(extract(epoch FROM clock.now - n.last_seen) * 1000)::bigint
                  AS age_ms) a
    WHERE n.cluster = p_cluster
)
SELECT json_build_object(
    'cluster', p_cluster,
    'db_now', clock.now,
    'holder', lv.holder,
    'term', coalesce(lv.term, 0),
    'active', st.active,
    'lease_remaining_ms', greatest(coalesce(lv.left_ms, 0), 0),
    'lease_ttl_ms', lv.ttl_ms,
    'acquired_at', lv.acquired_at,
    'renewed_at', lv.renewed_at,
    'reserved_for', lv.reserved_for,
    'reserved_until', lv.reserved_until,
    'nodes', coalesce((
        SELECT json_agg(json_build_object(
                   'node_id', nv.node_id, 'role', nv.role, 'state', nv.state, 'term', nv.term,
                   'processes', nv.processes, 'hostname', nv.hostname, 'version', nv.version,
                   'pid', nv.pid, 'incarnation', nv.incarnation, 'priority', nv.priority,
                   'peers', nv.peers, 'counters', nv.counters, 'started_at', nv.started_at,
                   'last_seen_age_ms', nv.age_ms, 'stale', nv.stale_why IS NOT NULL,
                   'stale_why', nv.stale_why
               ) ORDER BY nv.node_id)
        FROM nv
    ), '[]'::json))
FROM clock CROSS JOIN st LEFT JOIN lv ON true
$$;
-- An operator command (switchover from the CLI, terminate from the CLI or the dashboard),
-- bound to the holder and term the requester saw. Written only while that holder still holds
-- the live lease in that term, so a late request never reaches a node that took over in the
-- meantime; NULL when it was not written. Without p_for_holder the insert trigger binds it to
-- the live lease. currval, not RETURNING: the dashboard role may insert commands, not read
-- them.
CREATE FUNCTION {s}.request_command(p_cluster text, p_kind text, p_target text,
                                    p_requested_by text, p_for_holder text, p_for_term bigint)
    RETURNS bigint LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    IF p_for_holder IS NULL THEN
        INSERT INTO {s}.commands (cluster, kind, target, requested_by)
        VALUES (p_cluster, p_kind, p_target, p_requested_by);
    ELSE
        INSERT INTO {s}.commands (cluster, kind, target, requested_by, for_holder, for_term)
        SELECT p_cluster, p_kind, p_target, p_requested_by, l.holder, l.term
        FROM {s}.lease l
        WHERE l.cluster = p_cluster AND l.holder = p_for_holder AND l.term = p_for_term
          AND l.expires_at > clock_timestamp();
        IF NOT FOUND THEN
            RETURN NULL;
        END IF;
    END IF;
    RETURN currval(pg_get_serial_sequence('{s}.commands', 'id'));
END $$;
)sql",
        // 9: operator commands restart and failover, node removal, events pruning (issue 24)
        std::string(R"sql(
ALTER TABLE {s}.commands DROP CONSTRAINT commands_kind_check;
ALTER TABLE {s}.commands ADD CONSTRAINT commands_kind_check
    CHECK (kind IN ('switchover', 'terminate', 'restart'));
-- `remove NODE`: an operator role may delete the rows of its own cluster's nodes (a policy per
-- role, init-db --operator-role); every role that may read the table still reads every row.
ALTER TABLE {s}.nodes ENABLE ROW LEVEL SECURITY;
CREATE POLICY nodes_read ON {s}.nodes FOR SELECT USING (true);
-- `failover --to NODE` with no live holder: reserve the free lease for a standby of the
-- cluster for at most a minute, so that node and no other takes it. It never touches a live
-- lease (a live holder is asked by a command instead), and only the lease's owner and the
-- operator roles of that cluster (init-db --operator-role) may call it.
CREATE TABLE {s}.operator_clusters (
    role    name NOT NULL,
    cluster text NOT NULL,
    PRIMARY KEY (role, cluster)
);
CREATE FUNCTION {s}.reserve_free_lease(p_cluster text, p_node text, p_ms bigint)
    RETURNS boolean LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog AS $$
    WITH r AS (
        UPDATE {s}.lease
           SET reserved_for = p_node,
               reserved_until = clock_timestamp() + least(p_ms, 60000) * interval '1 millisecond'
         WHERE cluster = p_cluster AND (holder IS NULL OR expires_at <= clock_timestamp())
           AND EXISTS (SELECT 1 FROM {s}.nodes n WHERE n.cluster = p_cluster
                          AND n.node_id = p_node AND n.role = 'standby')
           AND (EXISTS (SELECT 1 FROM {s}.operator_clusters o
                         WHERE o.role = session_user AND o.cluster = p_cluster)
                OR pg_has_role(session_user, (SELECT relowner FROM pg_class
                                               WHERE oid = '{s}.lease'::regclass), 'USAGE'))
        RETURNING 1)
    SELECT count(*) > 0 FROM r
$$;
REVOKE ALL ON FUNCTION {s}.reserve_free_lease(text, text, bigint) FROM PUBLIC;
-- The append-only rule lets `events prune` through, and only it (events_guard_sql). Replaced
-- only by its owner: where an administrator owns it (init-db --daemon-role), init-db replaces it.
DO $do$
BEGIN
    IF pg_has_role((SELECT proowner FROM pg_proc
                     WHERE oid = '{s}.events_append_only()'::regprocedure), 'USAGE') THEN
        EXECUTE $ex$)sql") +
            k_events_guard + R"sql($ex$;
    END IF;
END $do$;
)sql",
        // 10: the history of the lease's terms, stated once (history_sql.cpp)
        term_history_migration(),
    };
    return m;
}

std::string expand(const std::string& sql, const std::string& schema) {
    std::string out;
    const std::string q = quoted(schema);
    for (std::size_t i = 0; i < sql.size();) {
        if (sql.compare(i, 3, "{s}") == 0) {
            out += q;
            i += 3;
        } else {
            out += sql[i++];
        }
    }
    return out;
}

}  // namespace

std::string events_guard_sql(const std::string& schema) {
    return expand(k_events_guard, schema);
}

int latest_schema_version() {
    return static_cast<int>(migrations().size());
}

int schema_version(pqxx::connection& c, const std::string& schema) {
    pqxx::nontransaction tx(c);
    const std::string table = quoted(schema) + ".schema_migrations";
    if (!tx.exec_params("SELECT to_regclass($1) IS NOT NULL", table)[0][0].as<bool>())
        return 0;
    return tx.exec("SELECT coalesce(max(version), 0) FROM " + table)[0][0].as<int>();
}

int migrate(pqxx::connection& c, const std::string& schema) {
    pqxx::work tx(c);
    // One lock for every daemon and init-db of this database: the second waits, then sees the
    // first one's tables and applies nothing.
    tx.exec_params("SELECT pg_advisory_xact_lock(hashtext($1))", "airflow_failover:" + schema);
    // Only when missing: CREATE SCHEMA IF NOT EXISTS still needs CREATE on the database, which
    // a daemon whose schema an administrator made (init-db --daemon-role) does not have.
    if (tx.exec_params("SELECT 1 FROM pg_namespace WHERE nspname = $1", schema).empty())
        tx.exec("CREATE SCHEMA " + quoted(schema));
    tx.exec("CREATE TABLE IF NOT EXISTS " + quoted(schema) +
            ".schema_migrations (version integer PRIMARY KEY, "
            "applied_at timestamptz NOT NULL DEFAULT clock_timestamp())");
    const int current = tx.exec("SELECT coalesce(max(version), 0) FROM " + quoted(schema) +
                                ".schema_migrations")[0][0]
                            .as<int>();
    if (current > latest_schema_version())
        throw std::runtime_error("schema " + schema + " is at version " + std::to_string(current) +
                                 ", newer than this build knows (" +
                                 std::to_string(latest_schema_version()) +
                                 "); upgrade airflow-failover");
    int applied = 0;
    for (int v = current + 1; v <= latest_schema_version(); ++v) {
        tx.exec(expand(migrations()[static_cast<std::size_t>(v - 1)], schema));
        tx.exec_params("INSERT INTO " + quoted(schema) + ".schema_migrations (version) VALUES ($1)",
                       v);
        ++applied;
    }
    tx.commit();
    return applied;
}

}  // namespace af::db
