with

source as (

    select * from {{ source('raw_psa', 'schedule') }}

),

renamed as (

    select
        -- ids
        "Id" as schedule_id,

        -- numerics
        {{ certinia_day_hours() }},
        "pse__Scheduled_Hours__c" as scheduled_hours,

        -- booleans
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
