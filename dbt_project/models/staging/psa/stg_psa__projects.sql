with

source as (

    select * from {{ source('raw_psa', 'project') }}

),

renamed as (

    select
        -- ids
        "Id" as project_id,
        "pse__Account__c" as crm_account_id,
        "pse__Opportunity__c" as crm_opportunity_id,
        "pse__Project_Manager__c" as project_manager_resource_id,

        -- strings
        "Name" as project_name,
        -- Recode the PSA picklist labels to the keys every model downstream uses;
        -- an unknown label passes through as is so the accepted_values test shows it.
        case lower(trim("pse__Billing_Type__c"))
            when 'time and materials' then 'time_and_materials'
            when 'time & materials' then 'time_and_materials'
            when 'fixed price' then 'fixed_fee'
            when 'fixed fee' then 'fixed_fee'
            when 'milestone' then 'milestone'
            when 'retainer' then 'retainer'
            when 'internal' then 'internal'
            when '' then 'internal'
            else coalesce("pse__Billing_Type__c", 'internal')
        end as billing_type,
        "pse__Stage__c" as project_stage,
        "pse__Practice__c" as practice,
        "pse__Region__c" as region,
        "Legal_Entity__c" as legal_entity_code,
        "CurrencyIsoCode" as currency_code,

        -- numerics
        "pse__Bookings__c" as contract_amount,
        "pse__Planned_Hours__c" as estimated_hours,

        -- booleans
        "pse__Is_Billable__c" as is_billable,
        "pse__Is_Active__c" as is_active,
        coalesce("IsDeleted", false) as is_deleted,

        -- dates
        "pse__Start_Date__c" as start_date,
        "pse__End_Date__c" as end_date,

        -- timestamps
        "SystemModstamp" as modified_at,

        -- load metadata
        {{ load_metadata() }}

    from source

)

select * from renamed
