with

source as (

    select * from {{ source('raw_crm', 'account') }}

),

renamed as (

    -- Raw columns keep Salesforce's spelling (`Industry`), quoted: PostgreSQL matches
    -- quoted names case-sensitively. Every column is aliased to its lowercase name.
    select
        -- ids
        "Id" as crm_account_id,

        -- strings
        "Name" as account_name,
        "Type" as account_type,
        "Industry" as industry,
        "BillingCountry" as billing_country_code,
        "CurrencyIsoCode" as currency_code,

        -- booleans
        coalesce("IsDeleted", false) as is_deleted,

        -- timestamps
        "CreatedDate" as created_at,
        "SystemModstamp" as modified_at,

        -- load metadata
        {{ load_metadata() }}

    from source

)

select * from renamed
