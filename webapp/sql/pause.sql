-- Maintenance mode (`airflow-failover pause`, daemon schema version 5): the cluster's live
-- pause, if any, judged on the database clock as the daemons judge it (an expired row no
-- longer counts). Read apart from the panel statement, so that a dashboard role granted
-- before version 5 still shows the panel (and a note instead of the banner).
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
FROM {schema}.pause
WHERE cluster = %(cluster)s
  AND (expires_at IS NULL OR expires_at > clock_timestamp())
