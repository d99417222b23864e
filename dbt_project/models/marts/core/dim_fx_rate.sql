-- Monthly rates into the reporting currency, as int_fx_rates_rebased derives them from
-- NetSuite's consolidated exchange rates, under the mart's contract. A currency with no ERP
-- rate for a month has no row for that month.
with

fx_rates as (

    select * from {{ ref('int_fx_rates_rebased') }}

),

final as (

    select
        -- ids
        month_start_date,
        from_currency_code,
        to_currency_code,

        -- numerics
        average_rate,
        period_end_rate,

        -- booleans
        is_identity,

        -- dates
        month_end_date

    from fx_rates

)

select * from final
