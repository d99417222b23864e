-- How fresh the forecast was when the planning tool received it, one row per reverse-sync
-- run in reverse_sync.sync_runs: from the newest source change (the largest source
-- modified timestamp among the records loaded before the sync started) and from the last
-- landing-file load before it, to the sync's finish. Only a delivered run (status success)
-- has a latency; blocked and dry runs send nothing. The dbt step runs before the sync of the
-- same pipeline run, so a run's own sync appears from the next build on.
with

sync_runs as (

    select * from {{ ref('int_sync_runs_logged') }}

),

loads as (

    select * from {{ ref('int_source_loads_summarized') }}

),

loaded_files as (

    select * from {{ ref('int_source_files_loaded') }}

),

runs_joined as (

    -- The newest source change and the last file load before each sync started.
    select
        sync_runs.*,
        sync_runs.sync_status = 'success' as is_delivered,
        (
            select max(loads.newest_modified_at)
            from loads
            where loads.loaded_at <= sync_runs.started_at
        ) as latest_source_change_at,
        (
            select max(loaded_files.loaded_at)
            from loaded_files
            where loaded_files.loaded_at <= sync_runs.started_at
        ) as latest_load_at
    from sync_runs

),

final as (

    select
        -- ids
        run_id,

        -- strings
        sync_name,
        sync_status,

        -- numerics
        case
            when is_delivered
                then {{ hours_between('latest_source_change_at', 'finished_at') }}
        end as refresh_latency_hours,
        case
            when is_delivered then {{ hours_between('latest_load_at', 'finished_at') }}
        end as load_to_sync_hours,

        -- booleans
        is_delivered,

        -- timestamps
        started_at,
        finished_at,
        latest_source_change_at,
        latest_load_at

    from runs_joined

)

select * from final
