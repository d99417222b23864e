-- Salesforce opportunities, soft-deleted ones included (is_deleted) so a deal that
-- disappears from the pipeline can be traced; a probability outside 0-100 is flagged.
-- Published as marts.fct_opportunities.
with

opportunities as (

    select * from {{ ref('stg_crm__opportunities') }}

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
        cast(amount as decimal(18, 2)) as amount,
        cast(probability_percent as decimal(9, 2)) as probability_percent,
        cast(delivery_months as integer) as delivery_months,

        -- booleans
        coalesce(is_closed, false) as is_closed,
        coalesce(is_won, false) as is_won,
        is_deleted,
        coalesce(probability_percent not between 0 and 100, true) as has_invalid_probability,

        -- dates
        close_date

    from opportunities

)

select * from final
