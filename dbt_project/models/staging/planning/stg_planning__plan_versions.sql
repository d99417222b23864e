with

source as (

    select * from {{ source('raw_planning', 'plan_version') }}

),

renamed as (

    select
        -- ids
        "Version Code" as plan_version_code,

        -- strings
        "Version Name" as plan_version_name,

        -- booleans
        "Is Current" as is_current,
        "Is Locked" as is_locked,

        -- dates
        {{ anaplan_month_to_date('"Start Month"') }} as first_month_start_date,
        {{ anaplan_month_to_date('"End Month"') }} as last_month_start_date,

        -- load metadata
        {{ load_metadata() }}

    from source

)

select * from renamed
