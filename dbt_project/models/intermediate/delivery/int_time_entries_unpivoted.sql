-- Certinia weekly timecards unpivoted to one row per timecard and day with hours <> 0.
-- Every status is kept (only approved, valid, non-duplicate time dated on or before the
-- as-of date is an actual: is_actual); defects are flagged, not dropped, so the exceptions
-- model can list them. Time dated after the as-of date is flagged (is_after_as_of_date):
-- approved or not, it is not an actual yet.
-- Incremental (intraday): only the timecards that changed, and the cards of the same resource,
-- project and week (their duplicate flags compare them), are rebuilt, and the as-of flags of
-- rows the as-of date moved past are updated in place; see macros/incremental_time_entries.sql.
-- The nightly run rebuilds it whole. Published as marts.fct_time_entries.
-- meta incremental_inputs: what its increments follow (the as-of date too). After any other
-- change (a rate card, a project, an FX rate) the pipeline's dbt step names it in
-- DBT_REBUILD_WHOLE: it is built whole.
{{
    config(
        materialized='incremental',
        meta={'incremental_inputs': ['raw_psa.timecard_header', 'as_of_date']},
        full_refresh=rebuilt_whole('int_time_entries_unpivoted'),
        incremental_strategy='append',
        on_schema_change='append_new_columns',
        pre_hook="{{ time_entries_prepare_increment() }}",
    )
}}

with

timecards as (

    select * from {{ ref('stg_psa__timecard_headers') }}

),

projects as (

    select * from {{ ref('stg_psa__projects') }}

),

resources as (

    select * from {{ ref('int_resources_joined') }}

),

live_timecards as (

    select * from timecards
    where not is_deleted {{ in_touched_timecards('time_entries__touched') }}

),

flagged_timecards as (

    -- A duplicate repeats an earlier timecard (lower Salesforce id) of the same resource,
    -- project and week hour for hour. Rejected cards are compared only with each other:
    -- a card resubmitted after a rejection is the real one, not a duplicate.
    select
        *,
        row_number() over (
            partition by
                resource_id,
                project_id,
                week_start_date,
                timecard_status = 'Rejected',
                monday_hours,
                tuesday_hours,
                wednesday_hours,
                thursday_hours,
                friday_hours,
                saturday_hours,
                sunday_hours
            order by timecard_id
        ) > 1 as is_duplicate
    from live_timecards

),

timecards_joined as (

    select
        flagged_timecards.*,
        resources.worker_id,
        resources.legal_entity_code,
        projects.project_id is null as has_unknown_project
    from flagged_timecards
    left outer join resources
        on flagged_timecards.resource_id = resources.resource_id
    left outer join projects
        on
            flagged_timecards.project_id = projects.project_id
            and not projects.is_deleted

),

weekdays as (

    select cast(day_numbers.iso_day_of_week as integer) as iso_day_of_week
    from generate_series(1, 7) as day_numbers (iso_day_of_week)

),

timecard_days as (

    -- The day columns are named for weekdays, so the date is the first day on or after
    -- the week start with that ISO weekday (week_start_date + offset when weeks start on
    -- Monday, as they do in Certinia by default).
    select
        timecards_joined.*,
        timecards_joined.week_start_date
        + cast(
            (
                weekdays.iso_day_of_week
                - {{ iso_date_part('isodow', 'timecards_joined.week_start_date') }}
                + 7
            ) % 7
            as integer
        ) as entry_date,
        {{ day_hours('timecards_joined', 'weekdays.iso_day_of_week') }} as hours
    from timecards_joined
    cross join weekdays

),

final as (

    select
        -- ids
        -- varchar, the type the mart's contract gives it (PostgreSQL's || makes text)
        cast({{ date_key('timecard_id', 'entry_date') }} as varchar) as time_entry_id,
        timecard_id,
        resource_id,
        worker_id,
        project_id,
        assignment_id,

        -- strings
        legal_entity_code,
        timecard_status,

        -- numerics
        cast(hours as decimal(9, 2)) as hours,

        -- booleans
        timecard_status = 'Approved' as is_approved,
        coalesce(is_billable, false) as is_billable,
        hours < 0 or hours > 24 as has_invalid_hours,
        has_unknown_project,
        is_duplicate,
        entry_date > {{ as_of_date() }} as is_after_as_of_date,
        timecard_status = 'Approved'
        and hours between 0 and 24
        and not has_unknown_project
        and not is_duplicate
        and entry_date <= {{ as_of_date() }} as is_actual,

        -- dates
        entry_date,

        -- timestamps
        loaded_at,
        {{ run_started_at_timestamp() }} as refreshed_at

    from timecard_days
    where hours <> 0

)

select * from final
