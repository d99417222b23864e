with

source as (

    select * from {{ source('raw_erp', 'currency') }}

),

renamed as (

    select
        -- ids
        id as currency_id,

        -- strings
        symbol as currency_code,
        name as currency_name,

        -- booleans
        isbasecurrency as is_base_currency,

        -- timestamps
        lastmodifieddate as modified_at,

        -- load metadata
        _loaded_at as loaded_at,
        _batch_id as batch_id

    from source

)

select * from renamed
