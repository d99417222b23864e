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

first_dates as (

    select {{ first_actual_month_start() }} as first_date
    union all
    select {{ as_of_month_start() }} as first_date
    union all
    select min(start_date) as first_date
    from projects
    union all
    select first_week_start_date as first_date
    from first_timecard_week
    union all
    select min(actual_date) as first_date
    from milestones

),

last_dates as (

    select {{ last_forecast_month_start() }} as last_date
    union all
    select {{ as_of_month_start() }} as last_date
    union all
    select max(end_date) as last_date
    from projects
    where billing_type = 'retainer'
    union all
    select
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

),

bounds as (

    select
        cast(date_trunc('month', (select min(first_dates.first_date) from first_dates)) as date)
            as first_month_start_date,
        cast(date_trunc('month', (select max(last_dates.last_date) from last_dates)) as date)
            as last_month_start_date

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
