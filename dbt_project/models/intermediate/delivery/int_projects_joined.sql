-- One row per non-deleted PSA project with its attributes and its NetSuite customer (through
-- int_id_map), typed once here for every model that needs a project; marts.dim_project
-- publishes it.
with

projects as (

    select * from {{ ref('stg_psa__projects') }}

),

id_map as (

    select * from {{ ref('int_id_map') }}

),

final as (

    select
        -- ids
        projects.project_id,
        projects.crm_account_id,
        projects.crm_opportunity_id,
        id_map.erp_customer_id,
        projects.project_manager_resource_id,

        -- strings
        projects.project_name,
        projects.billing_type,
        projects.project_stage,
        projects.practice,
        projects.region,
        projects.legal_entity_code,
        projects.currency_code,

        -- numerics
        cast(projects.contract_amount as decimal(18, 2)) as contract_amount,
        cast(projects.estimated_hours as decimal(12, 2)) as estimated_hours,

        -- booleans
        coalesce(projects.is_billable, false) as is_billable,
        coalesce(projects.is_active, false) as is_active,

        -- dates
        projects.start_date,
        projects.end_date

    from projects
    inner join id_map
        on projects.project_id = id_map.project_id

)

select * from final
