with

source as (

    select * from {{ source('raw_psa', 'contact') }}

),

renamed as (

    select
        -- ids
        id as resource_id,
        workday_worker_id__c as worker_id,

        -- strings
        name as resource_name,
        email as email_address,
        pse__resource_role__c as default_role,

        -- booleans
        pse__is_resource__c as is_resource,
        pse__is_resource_active__c as is_resource_active,
        coalesce(isdeleted, false) as is_deleted,

        -- timestamps
        systemmodstamp as modified_at,

        -- load metadata
        _loaded_at as loaded_at,
        _batch_id as batch_id

    from source

)

select * from renamed
