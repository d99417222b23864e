-- One row per day from the earliest history month through the end of the month 13 months
-- after the as-of date. History starts at the earliest of the first actual month of the
-- reporting window, the first ERP accounting period, the first timecard week and the first
-- schedule day, so every day-grain fact finds its day here.
with

accounting_periods as (

    select * from {{ ref('stg_erp__accounting_periods') }}

),

first_timecard_week as (

    select * from {{ ref('int_calendar_first_timecard_week') }}

),

schedules as (

    select * from {{ ref('stg_psa__schedules') }}

),

first_days as (

    select min(period_start_date) as first_date
    from accounting_periods
    where not coalesce(is_quarter, false) and not coalesce(is_year, false)

    union all

    select first_week_start_date as first_date
    from first_timecard_week

    union all

    select min(start_date) as first_date
    from schedules

    union all

    select {{ first_actual_month_start() }} as first_date

),

bounds as (

    select
        cast(date_trunc('month', min(first_date)) as date) as first_date,
        {{ dbt.last_day(
            'cast(' ~ dbt.dateadd('month', 13, as_of_date()) ~ ' as date)', 'month'
        ) }} as last_date
    from first_days

),

days as (

    select cast(day_starts.calendar_date as date) as calendar_date
    from bounds
    cross join
        generate_series(
            cast(bounds.first_date as timestamp),
            cast(bounds.last_date as timestamp),
            interval '1 day'
        ) as day_starts (calendar_date)

),

final as (

    select
        calendar_date,
        {{ iso_date_part('isoyear', 'calendar_date') }} as iso_year,
        {{ iso_date_part('week', 'calendar_date') }} as iso_week,
        {{ iso_date_part('isodow', 'calendar_date') }} as iso_day_of_week,
        cast(date_trunc('week', calendar_date) as date) as week_start_date,
        cast(date_trunc('month', calendar_date) as date) as month_start_date,
        {{ iso_date_part('isodow', 'calendar_date') }} <= 5 as is_weekday
    from days

)

select * from final
