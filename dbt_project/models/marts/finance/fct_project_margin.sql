-- Project margin per project and month (months up to the as-of month; the as-of month is
-- month to date). Project-currency amounts come rounded to cents from the intermediate
-- models; each is converted to the reporting currency at the month's average rate (a P&L
-- rate) and rounded to cents, and margins are differences of rounded amounts, so
-- revenue − labor_cost − expense_cost = margin holds to the cent in both currencies.
with

revenue_months as (

    select * from {{ ref('int_project_months_revenue_recognized') }}

),

labor_cost_months as (

    select * from {{ ref('int_project_months_labor_costed') }}

),

projects as (

    select * from {{ ref('dim_project') }}

),

fx_rates as (

    select * from {{ ref('dim_fx_rate') }}

),

months_joined as (

    select
        revenue_months.project_id,
        revenue_months.month_start_date,
        projects.legal_entity_code,
        projects.practice,
        revenue_months.billing_type,
        revenue_months.currency_code,
        revenue_months.hours_worked,
        revenue_months.billable_hours,
        coalesce(labor_cost_months.uncosted_hours, 0) as uncosted_hours,
        revenue_months.revenue,
        -- No month with hours means no labor cost; a null from the costing model (no FX
        -- rate for a foreign-currency cost) stays unknown.
        case
            when labor_cost_months.project_id is null then 0
            else labor_cost_months.labor_cost
        end as labor_cost,
        -- No direct-expense source is landed yet (no expense reports in the contract).
        cast(0 as decimal(18, 2)) as expense_cost,
        revenue_months.standard_value,
        {{ rate_to_reporting('fx_rates.average_rate', 'revenue_months.currency_code') }}
            as fx_average_rate,
        revenue_months.is_month_to_date
    from revenue_months
    inner join projects
        on revenue_months.project_id = projects.project_id
    left outer join labor_cost_months
        on
            revenue_months.project_id = labor_cost_months.project_id
            and revenue_months.month_start_date = labor_cost_months.month_start_date
    left outer join fx_rates
        on
            revenue_months.currency_code = fx_rates.from_currency_code
            and revenue_months.month_start_date = fx_rates.month_start_date

),

converted as (

    select
        *,
        {{ convert_to_cents('revenue', 'fx_average_rate') }} as revenue_reporting,
        {{ convert_to_cents('labor_cost', 'fx_average_rate') }} as labor_cost_reporting,
        {{ convert_to_cents('expense_cost', 'fx_average_rate') }} as expense_cost_reporting,
        {{ convert_to_cents('standard_value', 'fx_average_rate') }} as standard_value_reporting
    from months_joined

),

final as (

    select
        {{ project_month_columns() }},

        -- numerics
        cast(hours_worked as decimal(18, 2)) as hours_worked,
        cast(billable_hours as decimal(18, 2)) as billable_hours,
        cast(uncosted_hours as decimal(18, 2)) as uncosted_hours,
        cast(revenue as decimal(18, 2)) as revenue,
        cast(labor_cost as decimal(18, 2)) as labor_cost,
        cast(expense_cost as decimal(18, 2)) as expense_cost,
        cast(revenue - labor_cost - expense_cost as decimal(18, 2)) as margin,
        cast(
            (revenue - labor_cost - expense_cost) / nullif(revenue, 0) as decimal(18, 6)
        ) as margin_pct,
        cast(standard_value as decimal(18, 2)) as standard_value,
        cast(revenue / nullif(standard_value, 0) as decimal(18, 6)) as realization_rate,
        {{ divide_to_cents('revenue', 'hours_worked') }} as effective_bill_rate,
        cast(fx_average_rate as decimal(18, 8)) as fx_average_rate,
        cast(revenue_reporting as decimal(18, 2)) as revenue_reporting,
        cast(labor_cost_reporting as decimal(18, 2)) as labor_cost_reporting,
        cast(expense_cost_reporting as decimal(18, 2)) as expense_cost_reporting,
        cast(
            revenue_reporting - labor_cost_reporting - expense_cost_reporting
            as decimal(18, 2)
        ) as margin_reporting,
        cast(standard_value_reporting as decimal(18, 2)) as standard_value_reporting,
        {{ divide_to_cents('revenue_reporting', 'hours_worked') }}
            as effective_bill_rate_reporting,

        -- booleans
        is_month_to_date

    from converted

)

select * from final
