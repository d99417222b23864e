with

customers as (

    select * from {{ ref('stg_erp__customers') }}

),

accounts as (

    select * from {{ ref('stg_crm__accounts') }}

),

subsidiaries as (

    select * from {{ ref('stg_erp__subsidiaries') }}

),

currencies as (

    select * from {{ ref('stg_erp__currencies') }}

),

final as (

    select
        -- ids
        customers.erp_customer_id,
        customers.crm_account_id,

        -- strings
        customers.customer_number,
        customers.customer_name,
        accounts.account_name as crm_account_name,
        subsidiaries.legal_entity_code,
        currencies.currency_code,
        customers.payment_terms,

        -- booleans
        coalesce(customers.is_inactive, false) as is_inactive

    from customers
    left outer join accounts
        on customers.crm_account_id = accounts.crm_account_id
    left outer join subsidiaries
        on customers.subsidiary_id = subsidiaries.subsidiary_id
    left outer join currencies
        on customers.currency_id = currencies.currency_id

)

select * from final
