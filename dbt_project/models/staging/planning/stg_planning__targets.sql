with

source as (

    select * from {{ source('raw_planning', 'target') }}

),

renamed as (

    -- Raw columns keep Anaplan's spelling (`Practice`), quoted: PostgreSQL matches
    -- quoted names case-sensitively. Every column is aliased to its lowercase name.
    select
        -- ids
        "Version" as plan_version_code,
        "Legal Entity" as legal_entity_code,

        -- strings
        "Practice" as practice,
        "Currency" as currency_code,

        -- numerics
        "Revenue Target" as revenue_target_amount,
        "Billable Hours Target" as billable_hours_target,
        "Utilization Target" as billable_utilization_target,
        "Headcount Target" as headcount_target,

        -- dates
        {{ anaplan_month_to_date('"Month"') }} as month_start_date,

        -- load metadata
        {{ load_metadata() }}

    from source

)

select * from renamed
