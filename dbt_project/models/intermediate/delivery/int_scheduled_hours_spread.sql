-- Certinia assignment schedules spread to days: the schedule's weekday pattern on every
-- day between its start and end date, on days the resource is employed. A holiday of the
-- resource's calendar or a day with approved time off schedules zero hours; the row stays
-- (with pattern_hours) so the lost hours can be seen. Days the pattern leaves empty have
-- no row. Published as marts.fct_scheduled_hours.
with

assignments as (

    select * from {{ ref('stg_psa__assignments') }}

),

schedules as (

    select * from {{ ref('stg_psa__schedules') }}

),

projects as (

    select * from {{ ref('stg_psa__projects') }}

),

calendar_dates as (

    select * from {{ ref('int_calendar_dates') }}

),

resource_days as (

    select * from {{ ref('int_resource_days') }}

),

assignment_schedules as (

    select
        assignments.assignment_id,
        assignments.project_id,
        assignments.resource_id,
        assignments.is_billable,
        assignments.bill_rate,
        assignments.currency_code,
        schedules.start_date,
        schedules.end_date,
        schedules.monday_hours,
        schedules.tuesday_hours,
        schedules.wednesday_hours,
        schedules.thursday_hours,
        schedules.friday_hours,
        schedules.saturday_hours,
        schedules.sunday_hours
    from assignments
    inner join schedules
        on assignments.schedule_id = schedules.schedule_id
    where not assignments.is_deleted and not schedules.is_deleted

),

schedule_days as (

    select
        assignment_schedules.assignment_id,
        assignment_schedules.project_id,
        assignment_schedules.resource_id,
        assignment_schedules.is_billable,
        assignment_schedules.bill_rate,
        assignment_schedules.currency_code,
        calendar_dates.calendar_date as scheduled_date,
        {{ day_hours('assignment_schedules', 'calendar_dates.iso_day_of_week') }} as pattern_hours
    from assignment_schedules
    inner join calendar_dates
        on
            assignment_schedules.start_date <= calendar_dates.calendar_date
            and assignment_schedules.end_date >= calendar_dates.calendar_date

),

final as (

    select
        -- ids
        -- varchar, the type the mart's contract gives it (PostgreSQL's || makes text)
        cast(
            {{ date_key('schedule_days.assignment_id', 'schedule_days.scheduled_date') }}
            as varchar
        ) as scheduled_hours_id,
        schedule_days.assignment_id,
        schedule_days.project_id,
        schedule_days.resource_id,

        -- strings
        projects.legal_entity_code,
        schedule_days.currency_code,

        -- numerics
        cast(schedule_days.bill_rate as decimal(18, 2)) as bill_rate,
        cast(schedule_days.pattern_hours as decimal(9, 2)) as pattern_hours,
        cast(
            case
                when resource_days.is_holiday or resource_days.has_time_off then 0
                else schedule_days.pattern_hours
            end as decimal(9, 2)
        ) as scheduled_hours,

        -- booleans
        coalesce(schedule_days.is_billable, false) as is_billable,
        resource_days.is_holiday,
        resource_days.has_time_off,

        -- dates
        schedule_days.scheduled_date

    from schedule_days
    inner join resource_days
        on
            schedule_days.resource_id = resource_days.resource_id
            and schedule_days.scheduled_date = resource_days.calendar_date
    left outer join projects
        on
            schedule_days.project_id = projects.project_id
            and not projects.is_deleted
    where schedule_days.pattern_hours <> 0

)

select * from final
