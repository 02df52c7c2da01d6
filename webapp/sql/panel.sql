-- The whole cluster panel in one statement: the daemons' own cluster_status() (migration 8 of
-- src/db/migrations.cpp: active, lease, node ages and the stale rule, on one database clock
-- reading; the same call as `airflow-failover status`), plus the timeline's change marker.
-- Placeholders: {schema} (identifier); %(cluster)s (parameter).
SELECT {schema}.cluster_status(%(cluster)s)::jsonb || jsonb_build_object(
    -- Changes whenever a new event becomes visible. The newest event's id alone does not: `at`
    -- and `id` are taken at insert, and a row can commit after a newer one was already read
    -- (a became_active recorded in a longer transaction than the old holder's release). A row
    -- leaving the window only costs one extra timeline read. Both parts read the (cluster, at)
    -- index.
    'event_marker', jsonb_build_array(
        (SELECT id FROM {schema}.events WHERE cluster = %(cluster)s
         ORDER BY at DESC, id DESC LIMIT 1),
        (SELECT count(*) FROM {schema}.events
         WHERE cluster = %(cluster)s AND at > clock_timestamp() - interval '10 minutes')))
