-- The PSA project dimension, as int_projects_joined builds it, under the mart's contract.
with

projects as (

    select * from {{ ref('int_projects_joined') }}

),

final as (

    select
        -- ids
        project_id,
        crm_account_id,
        crm_opportunity_id,
        erp_customer_id,
        project_manager_resource_id,

        -- strings
        project_name,
        billing_type,
        project_stage,
        practice,
        region,
        legal_entity_code,
        currency_code,

        -- numerics
        contract_amount,
        estimated_hours,

        -- booleans
        is_billable,
        is_active,

        -- dates
        start_date,
        end_date

    from projects

)

select * from final
