-- The time-and-materials schedule behind each revenue forecast version, kept per as-of
-- date: one row per assignment of a time-and-materials client project and forecast month,
-- with its scheduled billable hours and bill rate. A project-month's scheduled revenue in
-- fct_revenue_forecast_version_lines is round(Σ billable hours × bill rate, 2) over these
-- rows; fct_forecast_bridge values the later schedule at the earlier bill rates with them
-- (a rate change against a schedule change). Bill rates only: no cost rate is kept.
-- Incremental, one version per as-of date, like fct_revenue_forecast_version_lines.

with

scheduled_hours as (

    select * from {{ ref('int_scheduled_hours_spread') }}

),

projects as (

    select * from {{ ref('int_projects_joined') }}

),

assignment_months as (

    select
        scheduled_hours.assignment_id,
        scheduled_hours.project_id,
        cast(date_trunc('month', scheduled_hours.scheduled_date) as date) as month_start_date,
        sum(case when scheduled_hours.is_billable then scheduled_hours.scheduled_hours else 0 end)
            as billable_hours,
        max(scheduled_hours.bill_rate) as bill_rate,
        max(scheduled_hours.currency_code) as currency_code
    from scheduled_hours
    inner join projects
        on scheduled_hours.project_id = projects.project_id
    where
        projects.billing_type = 'time_and_materials'
        and {{ in_forecast_window('scheduled_hours.scheduled_date') }}
    group by
        scheduled_hours.assignment_id,
        scheduled_hours.project_id,
        cast(date_trunc('month', scheduled_hours.scheduled_date) as date)

),

final as (

    select
        -- ids
        {{ as_of_date() }} as as_of_date,
        assignment_id,
        month_start_date,
        project_id,

        -- strings
        currency_code,

        -- numerics
        cast(billable_hours as decimal(18, 2)) as billable_hours,
        cast(bill_rate as decimal(18, 2)) as bill_rate

    from assignment_months

)

select * from final
