-- Recognized revenue per project and month, in project currency, by billing type:
--   time_and_materials  Σ approved billable hours × assignment bill rate, in the month worked
--   fixed_fee           earned to date = min(hours to date, estimated hours) × contract value
--                       ÷ estimated hours (percent complete capped at 100 %), rounded to cents;
--                       month = earned to date at its end − earned to date a month earlier
--   milestone           milestone amount in the month of its actual (completion) date
--   retainer            the month's part of the straight-line schedule (int_retainer_fees_spread)
--   internal            no revenue
-- Months run from the project's start month (or its first activity, if earlier) to its end
-- month (or last activity, if later), never past the as-of month, with no gaps, so the
-- fixed-fee differences telescope: Σ monthly revenue = earned to date. The as-of month is
-- month to date. Rounding to cents happens here, at project × month.
with

projects as (

    select * from {{ ref('int_projects_joined') }}

),

time_entries as (

    select * from {{ ref('int_time_entries_valued') }}

),

milestones as (

    select * from {{ ref('int_milestones_flagged') }}

),

retainer_fees as (

    select * from {{ ref('int_retainer_fees_spread') }}

),

fx_rates as (

    select * from {{ ref('int_fx_rates_rebased') }}

),

months as (

    select * from {{ ref('int_calendar_months') }}

),

time_months as (

    select
        project_id,
        month_start_date,
        sum(hours) as hours_worked,
        sum(billable_hours) as billable_hours,
        -- Σ over entries with a bill rate; an entry without one is an exception.
        coalesce(sum(billable_value), 0) as billable_value
    from time_entries
    group by project_id, month_start_date

),

standard_values_by_currency as (

    select
        project_id,
        month_start_date,
        currency_code,
        standard_rate_currency_code,
        sum(standard_value_in_rate_currency) as standard_value_in_rate_currency
    from time_entries
    where is_billable and standard_bill_rate is not null
    group by project_id, month_start_date, currency_code, standard_rate_currency_code

),

standard_values_converted as (

    -- A rate card in another currency than the project's is converted through the
    -- reporting currency at the month's average rates (cross rate).
    select
        standard_values_by_currency.project_id,
        standard_values_by_currency.month_start_date,
        {{ cross_rate_to_cents(
            'standard_values_by_currency.standard_value_in_rate_currency',
            'standard_values_by_currency.standard_rate_currency_code',
            'rate_fx.average_rate',
            'standard_values_by_currency.currency_code',
            'project_fx.average_rate'
        ) }} as standard_value
    from standard_values_by_currency
    left outer join fx_rates as rate_fx
        on
            standard_values_by_currency.standard_rate_currency_code
            = rate_fx.from_currency_code
            and standard_values_by_currency.month_start_date = rate_fx.month_start_date
    left outer join fx_rates as project_fx
        on
            standard_values_by_currency.currency_code = project_fx.from_currency_code
            and standard_values_by_currency.month_start_date = project_fx.month_start_date

),

standard_value_months as (

    select
        project_id,
        month_start_date,
        {{ strict_sum('standard_value') }} as standard_value
    from standard_values_converted
    group by project_id, month_start_date

),

milestone_months as (

    select
        milestones.project_id,
        cast(date_trunc('month', milestones.actual_date) as date) as month_start_date,
        sum(milestones.milestone_amount) as milestone_revenue
    from milestones
    inner join projects
        on milestones.project_id = projects.project_id
    where
        projects.billing_type = 'milestone'
        and milestones.is_complete
        and milestones.actual_date <= {{ as_of_date() }}
    group by milestones.project_id, cast(date_trunc('month', milestones.actual_date) as date)

),

retainer_months as (

    select
        project_id,
        month_start_date,
        retainer_amount
    from retainer_fees
    where month_start_date <= {{ as_of_month_start() }}

),

activity_months as (

    select
        project_id,
        month_start_date
    from time_months
    union all
    select
        project_id,
        month_start_date
    from milestone_months
    union all
    select
        project_id,
        month_start_date
    from retainer_months

),

project_ranges as (

    select
        projects.project_id,
        least(
            cast(date_trunc('month', projects.start_date) as date),
            min(activity_months.month_start_date)
        ) as first_month_start_date,
        least(
            greatest(
                coalesce(
                    cast(date_trunc('month', projects.end_date) as date),
                    {{ as_of_month_start() }}
                ),
                max(activity_months.month_start_date)
            ),
            {{ as_of_month_start() }}
        ) as last_month_start_date
    from projects
    left outer join activity_months
        on projects.project_id = activity_months.project_id
    group by projects.project_id, projects.start_date, projects.end_date

),

project_months as (

    select
        project_ranges.project_id,
        months.month_start_date
    from project_ranges
    inner join months
        on
            months.month_start_date
            between project_ranges.first_month_start_date
            and project_ranges.last_month_start_date

),

months_joined as (

    select
        project_months.project_id,
        project_months.month_start_date,
        projects.billing_type,
        projects.currency_code,
        projects.contract_amount,
        projects.estimated_hours,
        coalesce(time_months.hours_worked, 0) as hours_worked,
        coalesce(time_months.billable_hours, 0) as billable_hours,
        coalesce(time_months.billable_value, 0) as billable_value,
        coalesce(standard_value_months.standard_value, 0) as standard_value,
        standard_value_months.project_id is not null
        and standard_value_months.standard_value is null as is_standard_value_unknown,
        coalesce(milestone_months.milestone_revenue, 0) as milestone_revenue,
        coalesce(retainer_months.retainer_amount, 0) as retainer_revenue,
        sum(coalesce(time_months.hours_worked, 0)) over (
            partition by project_months.project_id
            order by project_months.month_start_date
            rows between unbounded preceding and current row
        ) as cumulative_hours_worked
    from project_months
    inner join projects
        on project_months.project_id = projects.project_id
    left outer join time_months
        on
            project_months.project_id = time_months.project_id
            and project_months.month_start_date = time_months.month_start_date
    left outer join standard_value_months
        on
            project_months.project_id = standard_value_months.project_id
            and project_months.month_start_date = standard_value_months.month_start_date
    left outer join milestone_months
        on
            project_months.project_id = milestone_months.project_id
            and project_months.month_start_date = milestone_months.month_start_date
    left outer join retainer_months
        on
            project_months.project_id = retainer_months.project_id
            and project_months.month_start_date = retainer_months.month_start_date

),

fixed_fee_earned as (

    -- Percent complete = hours to date ÷ estimated hours, capped at 100 %; earned to date
    -- is computed exactly and rounded once, and without a positive estimate or a contract
    -- value it is unknown (listed in fct_valuation_exceptions).
    select
        *,
        case
            when billing_type = 'fixed_fee' and estimated_hours > 0
                then {{ divide_to_cents(
                    'least(cumulative_hours_worked, estimated_hours)'
                    ~ ' * cast(contract_amount as decimal(38, 2))',
                    'estimated_hours'
                ) }}
        end as fixed_fee_earned_to_date
    from months_joined

),

revenue_recognized as (

    select
        *,
        case billing_type
            when 'time_and_materials' then {{ round_to_cents('billable_value') }}
            when 'fixed_fee'
                then fixed_fee_earned_to_date - coalesce(
                    lag(fixed_fee_earned_to_date) over (
                        partition by project_id
                        order by month_start_date
                    ),
                    0
                )
            when 'milestone' then milestone_revenue
            when 'retainer' then retainer_revenue
            else 0
        end as revenue
    from fixed_fee_earned

),

final as (

    select
        -- ids
        project_id,
        month_start_date,

        -- strings
        billing_type,
        currency_code,

        -- numerics
        cast(hours_worked as decimal(18, 2)) as hours_worked,
        cast(billable_hours as decimal(18, 2)) as billable_hours,
        cast(cumulative_hours_worked as decimal(18, 2)) as cumulative_hours_worked,
        cast(
            case
                when billing_type = 'fixed_fee' and estimated_hours > 0
                    then least(cumulative_hours_worked, estimated_hours) / estimated_hours
            end as decimal(9, 6)
        ) as percent_complete,
        cast(
            case when is_standard_value_unknown then null else standard_value end
            as decimal(18, 2)
        ) as standard_value,
        cast(revenue as decimal(18, 2)) as revenue,
        cast(
            sum(revenue) over (
                partition by project_id
                order by month_start_date
                rows between unbounded preceding and current row
            ) as decimal(18, 2)
        ) as earned_to_date,

        -- booleans
        month_start_date = {{ as_of_month_start() }} as is_month_to_date

    from revenue_recognized

)

select * from final
