-- Maintenance mode (`airflow-failover pause`): the cluster's live pause, if any, from the
-- daemons' own pause_state() (migration 8: an expired row no longer counts). Read apart from
-- the panel statement, so that a dashboard role granted before the pause existed still shows
-- the panel (and a note instead of the banner).
-- Placeholders: {schema} (identifier); %(cluster)s (parameter).
SELECT json_build_object(
    'paused_by', paused_by,
    'reason', reason,
    'stop_processes', stop_processes,
    'paused_at', to_char(paused_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS "UTC"'),
    'expires_at', to_char(expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS "UTC"'),
    'for_holder', for_holder,
    'for_term', for_term
)
FROM {schema}.pause_state(%(cluster)s)
