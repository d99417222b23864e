-- No cost rates here: they live in the restricted schema (int_worker_cost_rates).
with

resources as (

    select * from {{ ref('int_resources_joined') }}

),

final as (

    select
        -- ids
        resource_id,
        worker_id,

        -- strings
        resource_name,
        legal_entity_code,
        practice,
        region,
        role_code,
        country_code,
        worker_type,

        -- numerics
        cast(scheduled_weekly_hours as decimal(9, 2)) as scheduled_weekly_hours,

        -- booleans
        is_resource_active,

        -- dates
        hire_date,
        termination_date

    from resources

)

select * from final
