with

source as (

    select * from {{ source('raw_psa', 'assignment') }}

),

renamed as (

    select
        -- ids
        id as assignment_id,
        pse__project__c as project_id,
        pse__resource__c as resource_id,
        pse__schedule__c as schedule_id,

        -- strings
        name as assignment_name,
        pse__role__c as role_code,
        pse__status__c as assignment_status,
        currencyisocode as currency_code,

        -- numerics
        pse__bill_rate__c as bill_rate,
        pse__planned_hours__c as planned_hours,

        -- booleans
        pse__is_billable__c as is_billable,
        coalesce(isdeleted, false) as is_deleted,

        -- timestamps
        systemmodstamp as modified_at,

        -- load metadata
        _loaded_at as loaded_at,
        _batch_id as batch_id

    from source

)

select * from renamed
