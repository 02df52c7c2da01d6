-- The terminate command: kill the active node's scheduler (target NULL = its first managed
-- process); the active daemon executes it and hands the lease over. Through the daemons' own
-- request_command() (migration 8), as `airflow-failover` requests its commands: written only
-- if the lease is still held by the node and term the user confirmed, and bound to them, so a
-- late confirmation never hits a node that took over in the meantime. NULL: not written.
-- Placeholders: {schema}; %(cluster)s, %(requested_by)s, %(holder)s, %(term)s.
SELECT {schema}.request_command(%(cluster)s, 'terminate', NULL, %(requested_by)s, %(holder)s,
                                %(term)s)
