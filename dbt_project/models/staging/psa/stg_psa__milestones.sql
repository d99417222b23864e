with

source as (

    select * from {{ source('raw_psa', 'milestone') }}

),

renamed as (

    select
        -- ids
        "Id" as milestone_id,
        "pse__Project__c" as project_id,

        -- strings
        "Name" as milestone_name,
        "pse__Status__c" as milestone_status,
        "CurrencyIsoCode" as currency_code,

        -- numerics
        "pse__Milestone_Amount__c" as milestone_amount,

        -- booleans
        "pse__Approved__c" as is_approved,
        coalesce("IsDeleted", false) as is_deleted,

        -- dates
        "pse__Target_Date__c" as target_completion_date,
        "pse__Actual_Date__c" as actual_completion_date,

        -- timestamps
        "SystemModstamp" as modified_at,

        -- load metadata
        {{ load_metadata() }}

    from source

)

select * from renamed
