with

source as (

    select * from {{ source('raw_erp', 'subsidiary') }}

),

renamed as (

    select
        -- ids
        id as subsidiary_id,
        parent as parent_subsidiary_id,
        currency as functional_currency_id,

        -- strings
        externalid as legal_entity_code,
        name as subsidiary_name,
        country as country_code,

        -- booleans
        iselimination as is_elimination,
        isinactive as is_inactive,

        -- timestamps
        lastmodifieddate as modified_at,

        -- load metadata
        {{ load_metadata() }}

    from source

)

select * from renamed
