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
        {{ load_metadata() }}

    from source

)

select * from renamed
