with

source as (

    select * from {{ source('raw_psa', 'schedule') }}

),

renamed as (

    select
        -- ids
        id as schedule_id,

        -- numerics
        pse__monday_hours__c as monday_hours,
        pse__tuesday_hours__c as tuesday_hours,
        pse__wednesday_hours__c as wednesday_hours,
        pse__thursday_hours__c as thursday_hours,
        pse__friday_hours__c as friday_hours,
        pse__saturday_hours__c as saturday_hours,
        pse__sunday_hours__c as sunday_hours,
        pse__scheduled_hours__c as scheduled_hours,

        -- booleans
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
