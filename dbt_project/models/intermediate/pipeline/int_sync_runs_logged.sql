-- Every reverse-sync run as orchestration/defs/reverse_sync/state.py logged it
-- (reverse_sync.sync_runs), one row per run. A view, so it shows the log as it is when read;
-- the table is empty until the first sync, and the pre-hook creates it when missing.
{{ config(
    materialized='view',
    pre_hook="{{ create_pipeline_log_table('reverse_sync', 'sync_runs') }}",
) }}

with

sync_runs as (

    select * from {{ pipeline_log_relation('reverse_sync', 'sync_runs') }}

),

final as (

    select
        -- ids
        cast(run_id as varchar) as run_id,

        -- strings
        cast(sync_name as varchar) as sync_name,
        cast(status as varchar) as sync_status,

        -- timestamps
        cast(started_at as timestamp) as started_at,
        cast(finished_at as timestamp) as finished_at

    from sync_runs

)

select * from final
