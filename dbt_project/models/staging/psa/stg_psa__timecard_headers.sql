with

source as (

    select * from {{ source('raw_psa', 'timecard_header') }}

),

renamed as (

    -- One row per resource, project and week, as Certinia stores it; the unpivot to
    -- days happens in intermediate.
    select
        -- ids
        "Id" as timecard_id,
        "pse__Resource__c" as resource_id,
        "pse__Project__c" as project_id,
        "pse__Assignment__c" as assignment_id,

        -- strings
        "Name" as timecard_number,
        "pse__Status__c" as timecard_status,

        -- numerics
        {{ certinia_day_hours() }},
        "pse__Total_Hours__c" as total_hours,

        -- booleans
        "pse__Billable__c" as is_billable,
        coalesce("IsDeleted", false) as is_deleted,

        -- dates
        "pse__Start_Date__c" as week_start_date,
        "pse__End_Date__c" as week_end_date,

        -- timestamps
        "SystemModstamp" as modified_at,

        -- load metadata
        {{ load_metadata() }}

    from source

)

select * from renamed
