-- The first timecard week, the one thing the calendars read of the timecards (their history
-- starts no later than it). One row; empty week when there are no timecards.
-- A view with meta `cutoff`: the pipeline's dbt step reads its row before each build and
-- builds the calendars, and what lies only below them, when that row changed, not whenever
-- a timecard did (orchestration/defs/transform/changes.py). A view, so the row read before
-- the build is the one the build reads.
{{
    config(
        materialized='view',
        meta={'cutoff': true},
    )
}}

with

timecards as (

    select * from {{ ref('stg_psa__timecard_headers') }}

),

final as (

    select min(week_start_date) as first_week_start_date
    from timecards

)

select * from final
