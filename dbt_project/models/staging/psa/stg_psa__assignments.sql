with

source as (

    select * from {{ source('raw_psa', 'assignment') }}

),

renamed as (

    select
        -- ids
        "Id" as assignment_id,
        "pse__Project__c" as project_id,
        "pse__Resource__c" as resource_id,
        "pse__Schedule__c" as schedule_id,

        -- strings
        "Name" as assignment_name,
        "pse__Role__c" as role_code,
        "pse__Status__c" as assignment_status,
        "CurrencyIsoCode" as currency_code,

        -- numerics
        "pse__Bill_Rate__c" as bill_rate,
        "pse__Planned_Hours__c" as planned_hours,

        -- booleans
        "pse__Is_Billable__c" as is_billable,
        coalesce("IsDeleted", false) as is_deleted,

        -- timestamps
        "SystemModstamp" as modified_at,

        -- load metadata
        {{ load_metadata() }}

    from source

)

select * from renamed
