-- Billable utilization per resource and month over the reporting window: var actual_months
-- months before the as-of month (actuals), then the as-of month and the months after it,
-- var forecast_months in all (forecast). A resource has a row for every month it is
-- employed, or has actual or scheduled hours in: hours outside employment are not dropped,
-- they show with zero available hours.
with

resource_days as (

    select * from {{ ref('int_resource_days') }}

),

time_entries as (

    select * from {{ ref('fct_time_entries') }}

),

scheduled_hours as (

    select * from {{ ref('fct_scheduled_hours') }}

),

resources as (

    select * from {{ ref('dim_resource') }}

),

window_bounds as (

    select
        {{ first_actual_month_start() }} as first_month_start_date,
        {{ as_of_month_start() }} as first_forecast_month_start_date,
        {{ last_forecast_month_start() }} as last_month_start_date

),

capacity as (

    select
        resource_days.resource_id,
        resource_days.month_start_date,
        sum(resource_days.capacity_hours) as capacity_hours,
        sum(resource_days.holiday_hours) as holiday_hours,
        sum(resource_days.time_off_hours) as time_off_hours,
        sum(resource_days.available_hours) as available_hours
    from resource_days
    cross join window_bounds
    where
        resource_days.month_start_date
        between window_bounds.first_month_start_date and window_bounds.last_month_start_date
    group by resource_days.resource_id, resource_days.month_start_date

),

actual_hours as (

    -- Actual time only: approved, valid hours, project known, not a duplicate, dated on or
    -- before the as-of date (as int_time_entries_valued cuts it for the finance marts), so
    -- the as-of month shows the approved time so far and never time approved in advance.
    select
        time_entries.resource_id,
        cast(date_trunc('month', time_entries.entry_date) as date) as month_start_date,
        sum(case when time_entries.is_billable then time_entries.hours else 0 end)
            as billable_hours,
        sum(case when not time_entries.is_billable then time_entries.hours else 0 end)
            as non_billable_hours
    from time_entries
    cross join window_bounds
    where
        time_entries.is_approved
        and not time_entries.has_invalid_hours
        and not time_entries.has_unknown_project
        and not time_entries.is_duplicate
        and time_entries.entry_date >= window_bounds.first_month_start_date
        and time_entries.entry_date
        < {{ dbt.dateadd('month', 1, 'window_bounds.last_month_start_date') }}
        and time_entries.entry_date <= {{ as_of_date() }}
    group by
        time_entries.resource_id,
        cast(date_trunc('month', time_entries.entry_date) as date)

),

scheduled as (

    -- Forecast months only: billable assignment hours as scheduled for each day.
    select
        scheduled_hours.resource_id,
        cast(date_trunc('month', scheduled_hours.scheduled_date) as date) as month_start_date,
        sum(scheduled_hours.scheduled_hours) as scheduled_billable_hours
    from scheduled_hours
    cross join window_bounds
    where
        scheduled_hours.is_billable
        and scheduled_hours.scheduled_date >= window_bounds.first_forecast_month_start_date
        and scheduled_hours.scheduled_date
        < {{ dbt.dateadd('month', 1, 'window_bounds.last_month_start_date') }}
    group by
        scheduled_hours.resource_id,
        cast(date_trunc('month', scheduled_hours.scheduled_date) as date)

),

resource_months as (

    select
        resource_id,
        month_start_date
    from capacity

    union

    select
        resource_id,
        month_start_date
    from actual_hours

    union

    select
        resource_id,
        month_start_date
    from scheduled

),

joined as (

    select
        resource_months.resource_id,
        resource_months.month_start_date,
        resource_months.month_start_date
        >= window_bounds.first_forecast_month_start_date as is_forecast,
        coalesce(capacity.capacity_hours, 0) as capacity_hours,
        coalesce(capacity.holiday_hours, 0) as holiday_hours,
        coalesce(capacity.time_off_hours, 0) as time_off_hours,
        coalesce(capacity.available_hours, 0) as available_hours,
        coalesce(actual_hours.billable_hours, 0) as billable_hours,
        coalesce(actual_hours.non_billable_hours, 0) as non_billable_hours,
        coalesce(scheduled.scheduled_billable_hours, 0) as scheduled_billable_hours
    from resource_months
    cross join window_bounds
    left outer join capacity
        on
            resource_months.resource_id = capacity.resource_id
            and resource_months.month_start_date = capacity.month_start_date
    left outer join actual_hours
        on
            resource_months.resource_id = actual_hours.resource_id
            and resource_months.month_start_date = actual_hours.month_start_date
    left outer join scheduled
        on
            resource_months.resource_id = scheduled.resource_id
            and resource_months.month_start_date = scheduled.month_start_date

),

final as (

    select
        -- ids
        joined.resource_id,
        resources.worker_id,

        -- strings
        resources.legal_entity_code,
        resources.practice,
        resources.role_code,

        -- numerics
        cast(joined.capacity_hours as decimal(12, 4)) as capacity_hours,
        cast(joined.holiday_hours as decimal(12, 4)) as holiday_hours,
        cast(joined.time_off_hours as decimal(12, 4)) as time_off_hours,
        cast(joined.available_hours as decimal(12, 4)) as available_hours,
        cast(joined.billable_hours as decimal(12, 2)) as billable_hours,
        cast(joined.non_billable_hours as decimal(12, 2)) as non_billable_hours,
        cast(
            case when joined.is_forecast then joined.scheduled_billable_hours end
            as decimal(12, 2)
        ) as scheduled_billable_hours,
        cast(
            case
                when joined.available_hours > 0
                    then
                        case
                            when joined.is_forecast then joined.scheduled_billable_hours
                            else joined.billable_hours
                        end
                        / joined.available_hours
            end as decimal(9, 4)
        ) as billable_utilization,

        -- booleans
        joined.is_forecast,

        -- dates
        joined.month_start_date

    from joined
    left outer join resources
        on joined.resource_id = resources.resource_id

)

select * from final
