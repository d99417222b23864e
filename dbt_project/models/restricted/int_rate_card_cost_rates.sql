-- Rate-card standard cost rates (per role and legal entity) as validity intervals: each
-- line applies from its effective date until the next line's for the same role and entity
-- (exclusive), the last one open. The bill-rate side of the same lines is
-- int_rate_card_bill_rates (marts.dim_rate_card); cost rates stay here, in the restricted
-- schema.
with

rate_cards as (

    select * from {{ ref('stg_hris__rate_cards') }}

),

final as (

    select
        -- ids
        rate_card_id,

        -- strings
        role_code,
        legal_entity_code,
        currency_code,

        -- numerics
        cast(standard_cost_rate as decimal(18, 2)) as standard_cost_rate,

        -- dates
        effective_date as valid_from_date,
        lead(effective_date) over (
            partition by role_code, legal_entity_code
            order by effective_date, rate_card_id
        ) as valid_to_date

    from rate_cards

)

select * from final
