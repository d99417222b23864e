with

source as (

    select * from {{ source('raw_crm', 'opportunity') }}

),

renamed as (

    -- Raw columns keep Salesforce's spelling (`Amount`), quoted: PostgreSQL matches
    -- quoted names case-sensitively. Every column is aliased to its lowercase name.
    select
        -- ids
        "Id" as crm_opportunity_id,
        "AccountId" as crm_account_id,

        -- strings
        "Name" as opportunity_name,
        "StageName" as opportunity_stage,
        "Type" as opportunity_type,
        "Practice__c" as practice,
        "Legal_Entity__c" as legal_entity_code,
        "CurrencyIsoCode" as currency_code,

        -- numerics
        "Amount" as amount,
        "Probability" as probability_percent,
        "Delivery_Months__c" as delivery_months,

        -- booleans
        "IsClosed" as is_closed,
        "IsWon" as is_won,
        coalesce("IsDeleted", false) as is_deleted,

        -- dates
        "CloseDate" as close_date,

        -- timestamps
        "CreatedDate" as created_at,
        "SystemModstamp" as modified_at,

        -- load metadata
        {{ load_metadata() }}

    from source

)

select * from renamed
