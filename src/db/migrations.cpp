#include "af/db/migrations.hpp"

#include <pqxx/pqxx>
#include <stdexcept>
#include <vector>

#include "af/db/connection.hpp"

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
        // 8: operator commands restart and failover, node removal, events pruning (issue 24)
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
