-- Contract backlog and WIP per client project and month end, from the project's start
-- month (or the as-of month, for a project that has not started) to the as-of month.
-- Balances are taken at the balance date: the month's last day, or the as-of date in the
-- as-of month. Everything is in project currency, rounded to cents, and converted to the
-- reporting currency at the month's period-end rate (a balance-sheet rate); backlog,
-- unscheduled backlog and WIP in reporting currency are differences of converted amounts,
-- so the identities hold to the cent in both currencies. Internal projects have no
-- contract and no rows.
with

projects as (

    select * from {{ ref('dim_project') }}

),

revenue_months as (

    select * from {{ ref('int_project_months_revenue_recognized') }}

),

invoice_lines as (

    select * from {{ ref('fct_invoice_lines') }}

),

scheduled_hours as (

    select * from {{ ref('fct_scheduled_hours') }}

),

milestones as (

    select * from {{ ref('fct_milestones') }}

),

retainer_fees as (

    select * from {{ ref('int_retainer_fees_spread') }}

),

fx_rates as (

    select * from {{ ref('dim_fx_rate') }}

),

months as (

    select * from {{ ref('int_calendar_months') }}

),

client_projects as (

    select * from projects
    where billing_type <> 'internal'

),

project_ranges as (

    select
        client_projects.project_id,
        least(
            coalesce(
                cast(date_trunc('month', client_projects.start_date) as date),
                {{ as_of_month_start() }}
            ),
            coalesce(min(revenue_months.month_start_date), {{ as_of_month_start() }}),
            {{ as_of_month_start() }}
        ) as first_month_start_date
    from client_projects
    left outer join revenue_months
        on client_projects.project_id = revenue_months.project_id
    group by client_projects.project_id, client_projects.start_date

),

project_months as (

    select
        project_ranges.project_id,
        project_ranges.first_month_start_date,
        months.month_start_date,
        months.month_end_date,
        least(months.month_end_date, {{ as_of_date() }}) as balance_date
    from project_ranges
    inner join months
        on
            months.month_start_date
            between project_ranges.first_month_start_date and {{ as_of_month_start() }}

),

invoice_months as (

    -- Invoices and credit memos dated up to the as-of date, per project and month of the
    -- document date; anything billed before the first backlog month counts in that month.
    select
        invoice_lines.project_id,
        greatest(
            cast(date_trunc('month', invoice_lines.transaction_date) as date),
            project_ranges.first_month_start_date
        ) as month_start_date,
        sum(invoice_lines.signed_amount) as invoiced_amount
    from invoice_lines
    inner join project_ranges
        on invoice_lines.project_id = project_ranges.project_id
    where invoice_lines.transaction_date <= {{ as_of_date() }}
    group by
        invoice_lines.project_id,
        greatest(
            cast(date_trunc('month', invoice_lines.transaction_date) as date),
            project_ranges.first_month_start_date
        )

),

balances as (

    select
        project_months.project_id,
        project_months.month_start_date,
        project_months.month_end_date,
        project_months.balance_date,
        client_projects.legal_entity_code,
        client_projects.practice,
        client_projects.billing_type,
        client_projects.currency_code,
        client_projects.contract_amount as contract_value,
        client_projects.estimated_hours,
        -- A fixed-fee project without a positive estimate has unknown earnings.
        case
            when
                client_projects.billing_type = 'fixed_fee'
                and not coalesce(client_projects.estimated_hours > 0, false)
                then null
            else coalesce(
                sum(revenue_months.revenue) over (
                    partition by project_months.project_id
                    order by project_months.month_start_date
                    rows between unbounded preceding and current row
                ),
                0
            )
        end as earned_to_date,
        coalesce(
            sum(invoice_months.invoiced_amount) over (
                partition by project_months.project_id
                order by project_months.month_start_date
                rows between unbounded preceding and current row
            ),
            0
        ) as invoiced_to_date
    from project_months
    inner join client_projects
        on project_months.project_id = client_projects.project_id
    left outer join revenue_months
        on
            project_months.project_id = revenue_months.project_id
            and project_months.month_start_date = revenue_months.month_start_date
    left outer join invoice_months
        on
            project_months.project_id = invoice_months.project_id
            and project_months.month_start_date = invoice_months.month_start_date

),

schedule_after_balance as (

    -- What the schedule still holds after the balance date: the months after the balance
    -- month and, in the as-of month, the days after the as-of date.
    select
        balances.project_id,
        balances.month_start_date,
        coalesce(sum(scheduled_hours.scheduled_hours), 0) as scheduled_hours,
        coalesce(
            sum(
                case
                    when scheduled_hours.is_billable
                        then scheduled_hours.scheduled_hours * scheduled_hours.bill_rate
                    else 0
                end
            ),
            0
        ) as scheduled_billable_value
    from balances
    left outer join scheduled_hours
        on
            balances.project_id = scheduled_hours.project_id
            and balances.balance_date < scheduled_hours.scheduled_date
    group by balances.project_id, balances.month_start_date

),

milestones_open as (

    -- Dated milestones not completed by the balance date, overdue ones included: they
    -- are still a dated deliverable behind the backlog. Canceled ones are not backlog.
    select
        balances.project_id,
        balances.month_start_date,
        coalesce(sum(milestones.milestone_amount), 0) as open_milestone_amount
    from balances
    inner join milestones
        on balances.project_id = milestones.project_id
    where
        balances.billing_type = 'milestone'
        and milestones.target_date is not null
        and coalesce(milestones.milestone_status, '') <> 'Canceled'
        and not coalesce(
            milestones.is_complete and milestones.actual_date <= balances.balance_date, false
        )
    group by balances.project_id, balances.month_start_date

),

retainer_remaining as (

    select
        balances.project_id,
        balances.month_start_date,
        sum(retainer_fees.retainer_amount) as remaining_retainer_amount
    from balances
    inner join retainer_fees
        on
            balances.project_id = retainer_fees.project_id
            and balances.month_start_date < retainer_fees.month_start_date
    group by balances.project_id, balances.month_start_date

),

backlog as (

    select
        balances.*,
        balances.contract_value - balances.earned_to_date as backlog_amount,
        case balances.billing_type
            when 'time_and_materials'
                then {{ round_to_cents('schedule_after_balance.scheduled_billable_value') }}
            when 'fixed_fee'
                then {{ divide_to_cents(
                    'schedule_after_balance.scheduled_hours'
                    ~ ' * cast(balances.contract_value as decimal(38, 2))',
                    'balances.estimated_hours'
                ) }}
            when 'milestone' then coalesce(milestones_open.open_milestone_amount, 0)
            when 'retainer' then coalesce(retainer_remaining.remaining_retainer_amount, 0)
        end as scheduled_value
    from balances
    left outer join schedule_after_balance
        on
            balances.project_id = schedule_after_balance.project_id
            and balances.month_start_date = schedule_after_balance.month_start_date
    left outer join milestones_open
        on
            balances.project_id = milestones_open.project_id
            and balances.month_start_date = milestones_open.month_start_date
    left outer join retainer_remaining
        on
            balances.project_id = retainer_remaining.project_id
            and balances.month_start_date = retainer_remaining.month_start_date

),

backlog_split as (

    -- Scheduled backlog is what the schedule covers, never more than the (non-negative)
    -- backlog; the rest of it is unscheduled. A negative backlog (work earned beyond the
    -- contract value, e.g. a time-and-materials overrun) is neither. DuckDB's least() and
    -- greatest() skip nulls, so an unknown backlog or schedule is kept unknown explicitly.
    select
        *,
        case
            when backlog_amount is not null and scheduled_value is not null
                then least(scheduled_value, greatest(backlog_amount, 0))
        end as scheduled_backlog_amount,
        case
            when backlog_amount is not null and scheduled_value is not null
                then
                    greatest(backlog_amount, 0)
                    - least(scheduled_value, greatest(backlog_amount, 0))
        end as unscheduled_backlog_amount,
        earned_to_date - invoiced_to_date as wip_amount
    from backlog

),

converted as (

    select
        backlog_split.*,
        {{ rate_to_reporting('fx_rates.period_end_rate', 'backlog_split.currency_code') }}
            as fx_period_end_rate
    from backlog_split
    left outer join fx_rates
        on
            backlog_split.currency_code = fx_rates.from_currency_code
            and backlog_split.month_start_date = fx_rates.month_start_date

),

converted_balances as (

    select
        *,
        {{ convert_to_cents('contract_value', 'fx_period_end_rate') }}
            as contract_value_reporting,
        {{ convert_to_cents('earned_to_date', 'fx_period_end_rate') }}
            as earned_to_date_reporting,
        {{ convert_to_cents('invoiced_to_date', 'fx_period_end_rate') }}
            as invoiced_to_date_reporting,
        {{ convert_to_cents('scheduled_backlog_amount', 'fx_period_end_rate') }}
            as scheduled_backlog_converted
    from converted

),

reporting_backlog as (

    select
        *,
        contract_value_reporting - earned_to_date_reporting as backlog_amount_reporting
    from converted_balances

),

reporting_split as (

    -- When the schedule covers the whole backlog, its converted amount is the converted
    -- backlog itself, so the split keeps adding up after rounding. Nulls are handled
    -- explicitly: DuckDB's least() and greatest() skip them.
    select
        *,
        case
            when backlog_amount_reporting is null or scheduled_backlog_converted is null
                then null
            when unscheduled_backlog_amount = 0 then greatest(backlog_amount_reporting, 0)
            else least(scheduled_backlog_converted, greatest(backlog_amount_reporting, 0))
        end as scheduled_backlog_amount_reporting
    from reporting_backlog

),

final as (

    select
        {{ project_month_columns() }},

        -- numerics
        cast(contract_value as decimal(18, 2)) as contract_value,
        cast(earned_to_date as decimal(18, 2)) as earned_to_date,
        cast(invoiced_to_date as decimal(18, 2)) as invoiced_to_date,
        cast(backlog_amount as decimal(18, 2)) as backlog_amount,
        cast(scheduled_backlog_amount as decimal(18, 2)) as scheduled_backlog_amount,
        cast(unscheduled_backlog_amount as decimal(18, 2)) as unscheduled_backlog_amount,
        cast(wip_amount as decimal(18, 2)) as wip_amount,
        cast(fx_period_end_rate as decimal(18, 8)) as fx_period_end_rate,
        cast(contract_value_reporting as decimal(18, 2)) as contract_value_reporting,
        cast(earned_to_date_reporting as decimal(18, 2)) as earned_to_date_reporting,
        cast(invoiced_to_date_reporting as decimal(18, 2)) as invoiced_to_date_reporting,
        cast(backlog_amount_reporting as decimal(18, 2)) as backlog_amount_reporting,
        cast(scheduled_backlog_amount_reporting as decimal(18, 2))
            as scheduled_backlog_amount_reporting,
        cast(
            greatest(backlog_amount_reporting, 0) - scheduled_backlog_amount_reporting
            as decimal(18, 2)
        ) as unscheduled_backlog_amount_reporting,
        cast(earned_to_date_reporting - invoiced_to_date_reporting as decimal(18, 2))
            as wip_amount_reporting,

        -- booleans
        month_start_date = {{ as_of_month_start() }} as is_month_to_date,

        -- dates
        month_end_date,
        balance_date

    from reporting_split

)

select * from final
