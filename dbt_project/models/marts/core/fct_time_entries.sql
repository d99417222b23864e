-- Certinia timecards, one row per timecard and day with hours <> 0, every status kept and
-- defects flagged, as int_time_entries_unpivoted builds them (incrementally, intraday),
-- under the mart's contract: a plain table, copied from it whole on every run.
with

time_entries as (

    select * from {{ ref('int_time_entries_unpivoted') }}

),

final as (

    select
        -- ids
        time_entry_id,
        timecard_id,
        resource_id,
        worker_id,
        project_id,
        assignment_id,

        -- strings
        legal_entity_code,
        timecard_status,

        -- numerics
        hours,

        -- booleans
        is_approved,
        is_billable,
        has_invalid_hours,
        has_unknown_project,
        is_duplicate,
        is_after_as_of_date,
        is_actual,

        -- dates
        entry_date,

        -- timestamps
        loaded_at,
        refreshed_at

    from time_entries

)

select * from final
