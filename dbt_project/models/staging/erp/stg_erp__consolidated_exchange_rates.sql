with

source as (

    select * from {{ source('raw_erp', 'consolidated_exchange_rate') }}

),

renamed as (

    select
        -- ids
        id as consolidated_exchange_rate_id,
        postingperiod as accounting_period_id,
        fromsubsidiary as from_subsidiary_id,
        tosubsidiary as to_subsidiary_id,
        fromcurrency as from_currency_id,
        tocurrency as to_currency_id,

        -- numerics
        averagerate as average_rate,
        currentrate as period_end_rate,
        historicalrate as historical_rate,

        -- load metadata
        {{ load_metadata() }}

    from source

)

select * from renamed
