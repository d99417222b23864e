-- Labor cost per project and month, in project currency: Σ actual hours × the worker's
-- loaded cost rate valid on the day (restricted.int_worker_cost_rates). Cost in the worker's
-- currency is summed exactly per project, month and cost currency, then rounded to cents
-- there; a cost currency other than the project's is converted at the month's average
-- rates through the reporting currency (cost × rate(cost ccy) ÷ rate(project ccy)), and
-- without a rate the month's cost is unknown (null). Hours with no valid cost rate are left
-- out of labor_cost, counted in uncosted_hours and listed in fct_valuation_exceptions. Only
-- project-month totals leave this model, never a person's rate.
with

time_entries as (

    select * from {{ ref('int_time_entries_valued') }}

),

worker_cost_rates as (

    select * from {{ ref('int_worker_cost_rates') }}

),

fx_rates as (

    select * from {{ ref('int_fx_rates_rebased') }}

),

entries_costed as (

    select
        time_entries.project_id,
        time_entries.month_start_date,
        time_entries.currency_code,
        time_entries.hours,
        worker_cost_rates.currency_code as cost_currency_code,
        time_entries.hours * worker_cost_rates.loaded_cost_rate as labor_cost_in_cost_currency
    from time_entries
    left outer join worker_cost_rates
        on
            time_entries.worker_id = worker_cost_rates.worker_id
            and {{ valid_on('worker_cost_rates', 'time_entries.entry_date') }}

),

costs_by_currency as (

    select
        project_id,
        month_start_date,
        currency_code,
        cost_currency_code,
        sum(hours) as hours,
        sum(labor_cost_in_cost_currency) as labor_cost_in_cost_currency
    from entries_costed
    group by project_id, month_start_date, currency_code, cost_currency_code

),

costs_converted as (

    select
        costs_by_currency.project_id,
        costs_by_currency.month_start_date,
        costs_by_currency.hours,
        costs_by_currency.cost_currency_code is null as is_uncosted,
        case
            -- hours without a cost rate add nothing here (see uncosted_hours)
            when costs_by_currency.cost_currency_code is null then 0
            else {{ cross_rate_to_cents(
                'costs_by_currency.labor_cost_in_cost_currency',
                'costs_by_currency.cost_currency_code',
                'cost_fx.average_rate',
                'costs_by_currency.currency_code',
                'project_fx.average_rate'
            ) }}
        end as labor_cost
    from costs_by_currency
    left outer join fx_rates as cost_fx
        on
            costs_by_currency.cost_currency_code = cost_fx.from_currency_code
            and costs_by_currency.month_start_date = cost_fx.month_start_date
    left outer join fx_rates as project_fx
        on
            costs_by_currency.currency_code = project_fx.from_currency_code
            and costs_by_currency.month_start_date = project_fx.month_start_date

),

final as (

    select
        -- ids
        project_id,
        month_start_date,

        -- numerics
        cast(coalesce(sum(hours) filter (where not is_uncosted), 0) as decimal(18, 2))
            as costed_hours,
        cast(coalesce(sum(hours) filter (where is_uncosted), 0) as decimal(18, 2))
            as uncosted_hours,
        cast({{ strict_sum('labor_cost') }} as decimal(18, 2)) as labor_cost

    from costs_converted
    group by project_id, month_start_date

)

select * from final
