with

source as (

    select * from {{ source('raw_planning', 'target') }}

),

renamed as (

    -- Every column is aliased, some to their own name: unaliased, DuckDB would keep
    -- Anaplan's spelling (`Practice`) as the column name.
    select
        -- ids
        version as plan_version_code,
        "Legal Entity" as legal_entity_code,

        -- strings
        practice as practice,
        currency as currency_code,

        -- numerics
        "Revenue Target" as revenue_target_amount,
        "Billable Hours Target" as billable_hours_target,
        "Utilization Target" as billable_utilization_target,
        "Headcount Target" as headcount_target,

        -- dates
        {{ anaplan_month_to_date('month') }} as month_start_date,

        -- load metadata
        _loaded_at as loaded_at,
        _batch_id as batch_id

    from source

)

select * from renamed
