with

source as (

    select * from {{ source('raw_erp', 'customer') }}

),

renamed as (

    select
        -- ids
        id as erp_customer_id,
        custentity_sf_account_id as crm_account_id,
        subsidiary as subsidiary_id,
        currency as currency_id,

        -- strings
        entityid as customer_number,
        companyname as customer_name,
        terms as payment_terms,

        -- booleans
        isinactive as is_inactive,

        -- timestamps
        datecreated as created_at,
        lastmodifieddate as modified_at,

        -- load metadata
        {{ load_metadata() }}

    from source

)

select * from renamed
