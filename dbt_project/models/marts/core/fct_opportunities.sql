-- Salesforce opportunities, soft-deleted ones included, as int_opportunities_flagged builds
-- them, under the mart's contract.
with

opportunities as (

    select * from {{ ref('int_opportunities_flagged') }}

),

final as (

    select
        -- ids
        crm_opportunity_id,
        crm_account_id,

        -- strings
        opportunity_name,
        opportunity_stage,
        practice,
        legal_entity_code,
        currency_code,

        -- numerics
        amount,
        probability_percent,
        delivery_months,

        -- booleans
        is_closed,
        is_won,
        is_deleted,
        has_invalid_probability,

        -- dates
        close_date

    from opportunities

)

select * from final
