with

source as (

    select * from {{ source('raw_psa', 'project') }}

),

renamed as (

    select
        -- ids
        id as project_id,
        pse__account__c as crm_account_id,
        pse__opportunity__c as crm_opportunity_id,
        pse__project_manager__c as project_manager_resource_id,

        -- strings
        name as project_name,
        -- Recode the PSA picklist labels to the keys every model downstream uses;
        -- an unknown label passes through as is so the accepted_values test shows it.
        case lower(trim(pse__billing_type__c))
            when 'time and materials' then 'time_and_materials'
            when 'time & materials' then 'time_and_materials'
            when 'fixed price' then 'fixed_fee'
            when 'fixed fee' then 'fixed_fee'
            when 'milestone' then 'milestone'
            when 'retainer' then 'retainer'
            when 'internal' then 'internal'
            when '' then 'internal'
            else coalesce(pse__billing_type__c, 'internal')
        end as billing_type,
        pse__stage__c as project_stage,
        pse__practice__c as practice,
        pse__region__c as region,
        legal_entity__c as legal_entity_code,
        currencyisocode as currency_code,

        -- numerics
        pse__bookings__c as contract_amount,
        pse__planned_hours__c as estimated_hours,

        -- booleans
        pse__is_billable__c as is_billable,
        pse__is_active__c as is_active,
        coalesce(isdeleted, false) as is_deleted,

        -- dates
        pse__start_date__c as start_date,
        pse__end_date__c as end_date,

        -- timestamps
        systemmodstamp as modified_at,

        -- load metadata
        _loaded_at as loaded_at,
        _batch_id as batch_id

    from source

)

select * from renamed
