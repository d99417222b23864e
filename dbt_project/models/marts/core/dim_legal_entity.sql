with

subsidiaries as (

    select * from {{ ref('stg_erp__subsidiaries') }}

),

currencies as (

    select * from {{ ref('stg_erp__currencies') }}

),

final as (

    select
        -- ids
        subsidiaries.legal_entity_code,
        subsidiaries.subsidiary_id as erp_subsidiary_id,
        subsidiaries.parent_subsidiary_id as erp_parent_subsidiary_id,

        -- strings
        subsidiaries.subsidiary_name as legal_entity_name,
        subsidiaries.country_code,
        currencies.currency_code as functional_currency_code,

        -- booleans
        coalesce(subsidiaries.is_elimination, false) as is_elimination,
        coalesce(subsidiaries.is_inactive, false) as is_inactive

    from subsidiaries
    left outer join currencies
        on subsidiaries.functional_currency_id = currencies.currency_id

)

select * from final
