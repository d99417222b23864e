-- Monthly rates into the reporting currency, from NetSuite's consolidated exchange rates.
-- NetSuite stores each subsidiary's currency against the base currency of the account;
-- a reporting currency other than the base is reached through the base (a cross rate).
-- A currency with no ERP rate for a month has no row for that month: joins to this model
-- leave the converted amount empty instead of guessing a rate. Published as
-- marts.dim_fx_rate.
with

exchange_rates as (

    select * from {{ ref('stg_erp__consolidated_exchange_rates') }}

),

accounting_periods as (

    select * from {{ ref('stg_erp__accounting_periods') }}

),

currencies as (

    select * from {{ ref('stg_erp__currencies') }}

),

months as (

    select
        accounting_period_id,
        period_start_date as month_start_date
    from accounting_periods
    where not coalesce(is_quarter, false) and not coalesce(is_year, false)

),

base_currencies as (

    select
        currency_code,
        row_number() over (order by currency_id) as base_currency_rank
    from currencies
    where is_base_currency

),

base_currency as (

    select currency_code
    from base_currencies
    where base_currency_rank = 1

),

ranked_rates_to_base as (

    select
        months.month_start_date,
        from_currencies.currency_code as from_currency_code,
        exchange_rates.average_rate,
        exchange_rates.period_end_rate,
        row_number() over (
            partition by months.month_start_date, from_currencies.currency_code
            order by
                exchange_rates.from_subsidiary_id,
                exchange_rates.consolidated_exchange_rate_id
        ) as subsidiary_rank
    from exchange_rates
    inner join months
        on exchange_rates.accounting_period_id = months.accounting_period_id
    inner join currencies as from_currencies
        on exchange_rates.from_currency_id = from_currencies.currency_id
    inner join currencies as to_currencies
        on exchange_rates.to_currency_id = to_currencies.currency_id
    inner join base_currency
        on to_currencies.currency_code = base_currency.currency_code
    where from_currencies.currency_code <> to_currencies.currency_code

),

rates_to_base as (

    -- One rate per month and currency: several subsidiaries in the same currency carry
    -- the same rate, so the lowest subsidiary id is taken.
    select
        month_start_date,
        from_currency_code,
        average_rate,
        period_end_rate
    from ranked_rates_to_base
    where subsidiary_rank = 1

),

all_rates_to_base as (

    select * from rates_to_base

    union all

    select
        months.month_start_date,
        base_currency.currency_code as from_currency_code,
        1 as average_rate,
        1 as period_end_rate
    from months
    cross join base_currency

),

reporting_rates_to_base as (

    select * from all_rates_to_base
    where from_currency_code = {{ reporting_currency() }}

),

converted as (

    -- from -> reporting = (from -> base) / (reporting -> base); with the base currency as
    -- reporting currency the divisor is 1 and the ERP rate passes through unchanged.
    select
        all_rates_to_base.month_start_date,
        all_rates_to_base.from_currency_code,
        all_rates_to_base.average_rate / reporting_rates_to_base.average_rate as average_rate,
        all_rates_to_base.period_end_rate
        / reporting_rates_to_base.period_end_rate as period_end_rate,
        false as is_identity
    from all_rates_to_base
    inner join reporting_rates_to_base
        on all_rates_to_base.month_start_date = reporting_rates_to_base.month_start_date
    where all_rates_to_base.from_currency_code <> {{ reporting_currency() }}

),

identities as (

    select
        month_start_date,
        {{ reporting_currency() }} as from_currency_code,
        1 as average_rate,
        1 as period_end_rate,
        true as is_identity
    from months

),

unioned as (

    select * from converted

    union all

    select * from identities

),

final as (

    select
        -- ids
        month_start_date,
        cast(from_currency_code as varchar) as from_currency_code,
        cast({{ reporting_currency() }} as varchar) as to_currency_code,

        -- numerics
        cast(average_rate as decimal(18, 8)) as average_rate,
        cast(period_end_rate as decimal(18, 8)) as period_end_rate,

        -- booleans
        is_identity,

        -- dates
        {{ dbt.last_day('month_start_date', 'month') }} as month_end_date

    from unioned

)

select * from final
