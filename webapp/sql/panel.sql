-- The whole cluster panel in one statement, on one database clock reading.
-- Same semantics as `airflow-failover status --json` (src/db/cluster_view.cpp, src/cli/cli.cpp):
--   active             = the lease holder while floor(ms left) > 0, else NULL
--   lease_remaining_ms = max(0, floor(ms left)); 0 for a never-taken (-infinity) lease
--   last_seen_age_ms   = floor(ms since the node row was refreshed)
--   stale              = last_seen_age_ms > stale_after_ms
-- Placeholders: {schema} (identifier); %(cluster)s, %(stale_after_ms)s (parameters).
WITH clock AS (
    SELECT clock_timestamp() AS now
), l AS (
    SELECT holder, term, expires_at, acquired_at, renewed_at, reserved_for, reserved_until
    FROM {schema}.lease
    WHERE cluster = %(cluster)s
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
    FROM l, clock
), event_marker AS (
    -- Changes whenever a new event becomes visible. The newest event's id alone does not: `at`
    -- and `id` are taken at insert, and a row can commit after a newer one was already read
    -- (a became_active recorded in a longer transaction than the old holder's release). A row
    -- leaving the window only costs one extra timeline read.
    -- Both parts read the (cluster, at) index.
    SELECT (SELECT id FROM {schema}.events WHERE cluster = %(cluster)s
            ORDER BY at DESC, id DESC LIMIT 1) AS newest,
           (SELECT count(*) FROM {schema}.events, clock
            WHERE cluster = %(cluster)s AND at > clock.now - interval '10 minutes') AS recent
)
SELECT json_build_object(
    'cluster', %(cluster)s::text,
    'db_now', clock.now,
    'holder', lv.holder,
    'term', coalesce(lv.term, 0),
    'active', CASE WHEN lv.holder IS NOT NULL AND lv.left_ms > 0 THEN lv.holder END,
    'lease_remaining_ms', greatest(coalesce(lv.left_ms, 0), 0),
    'lease_ttl_ms', lv.ttl_ms,
    'acquired_at', lv.acquired_at,
    'renewed_at', lv.renewed_at,
    'reserved_for', lv.reserved_for,
    'reserved_until', lv.reserved_until,
    'event_marker', (SELECT json_build_array(newest, recent) FROM event_marker),
    'nodes', coalesce((
        SELECT json_agg(json_build_object(
                   'node_id', n.node_id,
                   'role', n.role,
                   'state', n.state,
                   'term', n.term,
                   'processes', n.processes,
                   'hostname', n.hostname,
                   'version', n.version,
                   'pid', n.pid,
                   'incarnation', n.incarnation,
                   'priority', n.priority,
                   'peers', n.peers,
                   'started_at', n.started_at,
                   'last_seen_age_ms', a.age_ms,
                   'stale', a.age_ms > %(stale_after_ms)s
               ) ORDER BY n.node_id)
        FROM {schema}.nodes n,
             LATERAL (SELECT floor(extract(epoch FROM clock.now - n.last_seen) * 1000)::bigint
                      AS age_ms) a
        WHERE n.cluster = %(cluster)s
    ), '[]'::json)
)
FROM clock LEFT JOIN lv ON true
