-- The cross-system id map: one row per (non-deleted) PSA project with its Salesforce
-- account and opportunity and its NetSuite customer. The ERP customer is found through
-- the CRM account (NetSuite custentity_sf_account_id = Salesforce Account id). When the
-- account matches no ERP customer, or more than one, erp_customer_id stays empty and
-- erp_customer_match_count says why, so the grain never fans out.
with

projects as (

    select * from {{ ref('stg_psa__projects') }}

),

customers as (

    select * from {{ ref('stg_erp__customers') }}

),

customer_matches as (

    select
        projects.project_id,
        count(customers.erp_customer_id) as erp_customer_match_count,
        min(customers.erp_customer_id) as erp_customer_id
    from projects
    left outer join customers
        on projects.crm_account_id = customers.crm_account_id
    where not projects.is_deleted
    group by projects.project_id

),

final as (

    select
        -- ids
        projects.project_id,
        projects.crm_account_id,
        projects.crm_opportunity_id,
        case
            when customer_matches.erp_customer_match_count = 1
                then customer_matches.erp_customer_id
        end as erp_customer_id,

        -- numerics
        cast(customer_matches.erp_customer_match_count as integer) as erp_customer_match_count,

        -- booleans
        projects.is_active,
        projects.is_billable

    from projects
    inner join customer_matches
        on projects.project_id = customer_matches.project_id

)

select * from final
