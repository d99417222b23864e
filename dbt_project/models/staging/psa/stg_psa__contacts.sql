with

source as (

    select * from {{ source('raw_psa', 'contact') }}

),

renamed as (

    select
        -- ids
        "Id" as resource_id,
        "Workday_Worker_ID__c" as worker_id,

        -- strings
        "Name" as resource_name,
        "Email" as email_address,
        "pse__Resource_Role__c" as default_role,

        -- booleans
        "pse__Is_Resource__c" as is_resource,
        "pse__Is_Resource_Active__c" as is_resource_active,
        coalesce("IsDeleted", false) as is_deleted,

        -- timestamps
        "SystemModstamp" as modified_at,

        -- load metadata
        {{ load_metadata() }}

    from source

)

select * from renamed
