with

source as (

    select * from {{ source('raw_psa', 'timecard_header') }}

),

renamed as (

    -- One row per resource, project and week, as Certinia stores it; the unpivot to
    -- days happens in intermediate.
    select
        -- ids
        id as timecard_id,
        pse__resource__c as resource_id,
        pse__project__c as project_id,
        pse__assignment__c as assignment_id,

        -- strings
        name as timecard_number,
        pse__status__c as timecard_status,

        -- numerics
        pse__monday_hours__c as monday_hours,
        pse__tuesday_hours__c as tuesday_hours,
        pse__wednesday_hours__c as wednesday_hours,
        pse__thursday_hours__c as thursday_hours,
        pse__friday_hours__c as friday_hours,
        pse__saturday_hours__c as saturday_hours,
        pse__sunday_hours__c as sunday_hours,
        pse__total_hours__c as total_hours,

        -- booleans
        pse__billable__c as is_billable,
        coalesce(isdeleted, false) as is_deleted,

        -- dates
        pse__start_date__c as week_start_date,
        pse__end_date__c as week_end_date,

        -- timestamps
        systemmodstamp as modified_at,

        -- load metadata
        _loaded_at as loaded_at,
        _batch_id as batch_id

    from source

)

select * from renamed
