-- Least privilege for the dashboard's database role: read the state tables and the prices,
-- insert terminate commands for its own cluster (only the columns a requester may set),
-- nothing else. The commands table has row-level security (airflow-failover migration 3):
-- the policy below is the role's only way in.
-- Apply with `python -m webapp grant-role --role NAME --cluster NAME` (creates the role if
-- missing), or render it for psql with `... --print`.
-- Placeholders: {role}, {schema}, {policy} (identifiers), {role_literal}, {cluster_literal},
-- {pause_policy_literal}, {pause_regclass} and {prices_regclass} (literals; the pause table comes
-- with daemon schema version 5, the prices table with the pipeline's first load).
REVOKE ALL ON ALL TABLES IN SCHEMA {schema} FROM {role};
REVOKE ALL ON ALL SEQUENCES IN SCHEMA {schema} FROM {role};
GRANT USAGE ON SCHEMA {schema} TO {role};
GRANT SELECT ON {schema}.lease, {schema}.nodes, {schema}.events TO {role};
GRANT INSERT (cluster, kind, target, requested_by, for_holder, for_term) ON {schema}.commands
    TO {role};
GRANT USAGE ON SEQUENCE {schema}.commands_id_seq TO {role};
DROP POLICY IF EXISTS {policy} ON {schema}.commands;
CREATE POLICY {policy} ON {schema}.commands FOR INSERT TO {role}
    WITH CHECK (kind = 'terminate' AND cluster = {cluster_literal});
-- Maintenance mode (read-only; the pause table has row-level security): only its own cluster.
DO $pause$
BEGIN
    IF to_regclass({pause_regclass}) IS NOT NULL THEN
        EXECUTE format('GRANT SELECT ON %s TO %I', to_regclass({pause_regclass}), {role_literal});
        EXECUTE format('DROP POLICY IF EXISTS %I ON %s', {pause_policy_literal},
                       to_regclass({pause_regclass}));
        EXECUTE format('CREATE POLICY %I ON %s FOR SELECT TO %I USING (cluster = %L)',
                       {pause_policy_literal}, to_regclass({pause_regclass}), {role_literal},
                       {cluster_literal});
    END IF;
END
$pause$;
-- The Xetra table is created by the pipeline's first load; run this again after it if it is
-- absent now (the dashboard shows "no price data" meanwhile).
DO $grant$
BEGIN
    IF to_regclass({prices_regclass}) IS NOT NULL THEN
        EXECUTE format('GRANT USAGE ON SCHEMA %I TO %I',
                       (SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                        WHERE c.oid = to_regclass({prices_regclass})),
                       {role_literal});
        EXECUTE format('GRANT SELECT ON %s TO %I', to_regclass({prices_regclass}), {role_literal});
    END IF;
END
$grant$;
