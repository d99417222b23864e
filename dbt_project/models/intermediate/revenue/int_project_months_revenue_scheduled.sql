-- Revenue the current schedule will earn per client project and forecast month (the as-of
-- month and the var('forecast_months') - 1 months after it), in project currency, rounded
-- to cents per project and month, by billing type:
--   time_and_materials  Σ scheduled billable hours × assignment bill rate
--   fixed_fee           earned to date if the scheduled hours are worked: min(actual hours
--                       before the as-of month + scheduled hours from the as-of month to the
--                       month's end, estimated hours) × contract value ÷ estimated hours,
--                       minus the same a month earlier (so it stops at the contract value)
--   milestone           milestones not completed before the as-of month, in the month of
--                       their target date (a completion already recorded in the as-of month
--                       counts there; an overdue target moves to the as-of month)
--   retainer            the straight-line schedule's months (int_retainer_fees_spread)
-- The as-of month is forecast in full from the schedule, as every month from it on.
with

projects as (

    select * from {{ ref('int_projects_joined') }}

),

scheduled_hours as (

    select * from {{ ref('int_scheduled_hours_spread') }}

),

milestones as (

    select * from {{ ref('int_milestones_flagged') }}

),

retainer_fees as (

    select * from {{ ref('int_retainer_fees_spread') }}

),

revenue_months as (

    select * from {{ ref('int_project_months_revenue_recognized') }}

),

months as (

    select * from {{ ref('int_calendar_months') }}

),

forecast_months as (

    select month_start_date
    from months
    where {{ in_forecast_window('month_start_date') }}

),

client_projects as (

    select * from projects
    where billing_type <> 'internal'

),

schedule_months as (

    select
        project_id,
        cast(date_trunc('month', scheduled_date) as date) as month_start_date,
        sum(scheduled_hours) as scheduled_hours,
        sum(case when is_billable then scheduled_hours * bill_rate else 0 end)
            as scheduled_billable_value
    from scheduled_hours
    where {{ in_forecast_window('scheduled_date') }}
    group by project_id, cast(date_trunc('month', scheduled_date) as date)

),

time_and_materials_months as (

    select
        schedule_months.project_id,
        schedule_months.month_start_date,
        schedule_months.scheduled_hours,
        {{ round_to_cents('schedule_months.scheduled_billable_value') }} as scheduled_revenue
    from schedule_months
    inner join client_projects
        on schedule_months.project_id = client_projects.project_id
    where client_projects.billing_type = 'time_and_materials'

),

fixed_fee_hours_before as (

    select
        client_projects.project_id,
        client_projects.contract_amount,
        client_projects.estimated_hours,
        coalesce(sum(revenue_months.hours_worked), 0) as hours_before
    from client_projects
    left outer join revenue_months
        on
            client_projects.project_id = revenue_months.project_id
            and revenue_months.month_start_date < {{ as_of_month_start() }}
    where client_projects.billing_type = 'fixed_fee'
    group by
        client_projects.project_id,
        client_projects.contract_amount,
        client_projects.estimated_hours

),

fixed_fee_cumulative as (

    select
        fixed_fee_hours_before.project_id,
        forecast_months.month_start_date,
        fixed_fee_hours_before.contract_amount,
        fixed_fee_hours_before.estimated_hours,
        coalesce(schedule_months.scheduled_hours, 0) as scheduled_hours,
        fixed_fee_hours_before.hours_before,
        fixed_fee_hours_before.hours_before + sum(coalesce(schedule_months.scheduled_hours, 0))
            over (
                partition by fixed_fee_hours_before.project_id
                order by forecast_months.month_start_date
                rows between unbounded preceding and current row
            ) as cumulative_hours
    from fixed_fee_hours_before
    cross join forecast_months
    left outer join schedule_months
        on
            fixed_fee_hours_before.project_id = schedule_months.project_id
            and forecast_months.month_start_date = schedule_months.month_start_date
    where fixed_fee_hours_before.estimated_hours > 0

),

fixed_fee_earned as (

    select
        *,
        {{ divide_to_cents(
            'least(cumulative_hours, estimated_hours) * cast(contract_amount as decimal(38, 2))',
            'estimated_hours'
        ) }} as earned_if_scheduled,
        {{ divide_to_cents(
            'least(hours_before, estimated_hours) * cast(contract_amount as decimal(38, 2))',
            'estimated_hours'
        ) }} as earned_before
    from fixed_fee_cumulative

),

fixed_fee_months as (

    select
        project_id,
        month_start_date,
        scheduled_hours,
        earned_if_scheduled - coalesce(
            lag(earned_if_scheduled) over (partition by project_id order by month_start_date),
            earned_before
        ) as scheduled_revenue
    from fixed_fee_earned

),

milestone_months as (

    select
        milestones.project_id,
        case
            when milestones.is_complete and milestones.actual_date is not null
                then cast(date_trunc('month', milestones.actual_date) as date)
            else greatest(
                cast(date_trunc('month', milestones.target_date) as date),
                {{ as_of_month_start() }}
            )
        end as month_start_date,
        cast(null as decimal(18, 2)) as scheduled_hours,
        sum(milestones.milestone_amount) as scheduled_revenue
    from milestones
    inner join client_projects
        on milestones.project_id = client_projects.project_id
    where
        client_projects.billing_type = 'milestone'
        and coalesce(milestones.milestone_status, '') <> 'Canceled'
        and not coalesce(
            milestones.is_complete and milestones.actual_date < {{ as_of_month_start() }},
            false
        )
        and (
            milestones.target_date is not null
            or (milestones.is_complete and milestones.actual_date is not null)
        )
    -- month_start_date is the output column above (no milestone column has that name)
    group by milestones.project_id, month_start_date

),

retainer_months as (

    select
        retainer_fees.project_id,
        retainer_fees.month_start_date,
        cast(null as decimal(18, 2)) as scheduled_hours,
        retainer_fees.retainer_amount as scheduled_revenue
    from retainer_fees
    inner join forecast_months
        on retainer_fees.month_start_date = forecast_months.month_start_date

),

unioned as (

    -- Each billing type's months, as (project_id, month_start_date, scheduled_hours,
    -- scheduled_revenue); milestones and retainers schedule no hours.
    select * from time_and_materials_months
    union all
    select * from fixed_fee_months
    union all
    select * from milestone_months
    union all
    select * from retainer_months

),

final as (

    select
        -- ids
        unioned.project_id,
        unioned.month_start_date,

        -- strings
        client_projects.billing_type,
        client_projects.legal_entity_code,
        client_projects.practice,
        client_projects.currency_code,

        -- numerics
        cast(unioned.scheduled_hours as decimal(18, 2)) as scheduled_hours,
        cast(unioned.scheduled_revenue as decimal(18, 2)) as scheduled_revenue

    from unioned
    inner join client_projects
        on unioned.project_id = client_projects.project_id
    where {{ in_forecast_window('unioned.month_start_date') }}

)

select * from final
