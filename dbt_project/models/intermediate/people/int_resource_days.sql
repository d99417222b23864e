-- One row per resource and calendar day of employment (hire date through termination
-- date, both inclusive), weekends included with zero capacity so day-grain facts on any
-- day (a weekend schedule) can join here. Capacity is the HRIS standard week spread over
-- Monday to Friday; holidays come from the worker's holiday calendar (location country);
-- only approved time off counts, capped at what the day still has after a holiday.
with

resources as (

    select * from {{ ref('int_resources_joined') }}

),

calendar_dates as (

    select * from {{ ref('int_calendar_dates') }}

),

holidays as (

    select * from {{ ref('int_country_holidays') }}

),

time_off_entries as (

    select * from {{ ref('stg_hris__time_off_entries') }}

),

approved_time_off as (

    select
        worker_id,
        time_off_date,
        sum(time_off_hours) as time_off_hours
    from time_off_entries
    where time_off_status = 'Approved'
    group by worker_id, time_off_date

),

employed_days as (

    select
        resources.resource_id,
        resources.worker_id,
        resources.legal_entity_code,
        resources.country_code,
        calendar_dates.calendar_date,
        calendar_dates.month_start_date,
        calendar_dates.is_weekday,
        case
            when calendar_dates.is_weekday
                then coalesce(resources.scheduled_weekly_hours, 0) * 0.2
            else 0
        end as capacity_hours
    from resources
    inner join calendar_dates
        on
            resources.hire_date <= calendar_dates.calendar_date
            and coalesce(resources.termination_date, date '9999-12-31')
            >= calendar_dates.calendar_date

),

days_with_absences as (

    select
        employed_days.*,
        holidays.holiday_date is not null as is_holiday,
        holidays.holiday_name,
        coalesce(approved_time_off.time_off_hours, 0) > 0 as has_time_off,
        coalesce(approved_time_off.time_off_hours, 0) as requested_time_off_hours
    from employed_days
    left outer join holidays
        on
            employed_days.country_code = holidays.country_code
            and employed_days.calendar_date = holidays.holiday_date
    left outer join approved_time_off
        on
            employed_days.worker_id = approved_time_off.worker_id
            and employed_days.calendar_date = approved_time_off.time_off_date

),

hours as (

    select
        *,
        case when is_holiday then capacity_hours else 0 end as holiday_hours,
        case
            when is_holiday then 0
            else greatest(least(requested_time_off_hours, capacity_hours), 0)
        end as time_off_hours
    from days_with_absences

),

final as (

    select
        -- ids
        resource_id,
        worker_id,

        -- strings
        legal_entity_code,
        country_code as holiday_country_code,
        holiday_name,

        -- numerics
        cast(capacity_hours as decimal(12, 4)) as capacity_hours,
        cast(holiday_hours as decimal(12, 4)) as holiday_hours,
        cast(time_off_hours as decimal(12, 4)) as time_off_hours,
        cast(capacity_hours - holiday_hours - time_off_hours as decimal(12, 4))
            as available_hours,

        -- booleans
        is_weekday,
        is_holiday,
        has_time_off,

        -- dates
        calendar_date,
        month_start_date

    from hours

)

select * from final
