-- The month spine: one row per calendar month, which every model that lays amounts out by
-- month joins to (retainer terms, opportunity delivery months, project months, the
-- reporting window). It spans every month those models can need, from the earliest of the
-- first actual month, the as-of month, a project start, a timecard week and a milestone
-- completion, to the latest of the last forecast month, the as-of month, a retainer's end
-- and an open opportunity's last delivery month (the month after the later of its close
-- month and the as-of month, plus its delivery months less one).
with

projects as (

    select * from {{ ref('int_projects_joined') }}

),

first_timecard_week as (

    select * from {{ ref('int_calendar_first_timecard_week') }}

),

milestones as (

    select * from {{ ref('int_milestones_flagged') }}

),

opportunities as (

    select * from {{ ref('int_opportunities_flagged') }}

),

bound_dates as (

    -- The earliest and the latest date each source needs the spine to hold (null: none),
    -- then the reporting window's and the as-of month.
    select
        min(start_date) as first_date,
        max(end_date) filter (where billing_type = 'retainer') as last_date
    from projects
    union all
    select
        first_week_start_date as first_date,
        cast(null as date) as last_date
    from first_timecard_week
    union all
    select
        min(actual_date) as first_date,
        cast(null as date) as last_date
    from milestones
    union all
    select
        cast(null as date) as first_date,
        max(
            {{ dbt.dateadd(
                'month',
                'delivery_months',
                "greatest(cast(date_trunc('month', close_date) as date), "
                ~ as_of_month_start() ~ ")"
            ) }}
        ) as last_date
    from opportunities
    where not is_closed and not is_deleted
    union all
    select
        {{ first_actual_month_start() }} as first_date,
        {{ last_forecast_month_start() }} as last_date
    union all
    select
        {{ as_of_month_start() }} as first_date,
        {{ as_of_month_start() }} as last_date

),

bounds as (

    select
        cast(date_trunc('month', min(first_date)) as date) as first_month_start_date,
        cast(date_trunc('month', max(last_date)) as date) as last_month_start_date
    from bound_dates

),

months as (

    select cast(month_starts.month_start_date as date) as month_start_date
    from bounds
    cross join
        generate_series(
            cast(bounds.first_month_start_date as timestamp),
            cast(bounds.last_month_start_date as timestamp),
            interval '1 month'
        ) as month_starts (month_start_date)

),

final as (

    select
        -- dates
        month_start_date,
        {{ dbt.last_day('month_start_date', 'month') }} as month_end_date
    from months

)

select * from final
