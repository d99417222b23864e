with

source as (

    select * from {{ source('raw_psa', 'milestone') }}

),

renamed as (

    select
        -- ids
        id as milestone_id,
        pse__project__c as project_id,

        -- strings
        name as milestone_name,
        pse__status__c as milestone_status,
        currencyisocode as currency_code,

        -- numerics
        pse__milestone_amount__c as milestone_amount,

        -- booleans
        pse__approved__c as is_approved,
        coalesce(isdeleted, false) as is_deleted,

        -- dates
        pse__target_date__c as target_completion_date,
        pse__actual_date__c as actual_completion_date,

        -- timestamps
        systemmodstamp as modified_at,

        -- load metadata
        _loaded_at as loaded_at,
        _batch_id as batch_id

    from source

)

select * from renamed
