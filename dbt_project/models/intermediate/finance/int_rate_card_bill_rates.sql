-- Rate-card standard bill rates (per role and legal entity) as validity intervals: each
-- line applies from its effective date until the next line's for the same role and entity
-- (exclusive), the last one open. Published as marts.dim_rate_card; the standard cost rate
-- of the same lines is in restricted.int_rate_card_cost_rates.
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
        cast(standard_bill_rate as decimal(18, 2)) as standard_bill_rate,

        -- dates
        effective_date as valid_from_date,
        lead(effective_date) over (
            partition by role_code, legal_entity_code
            order by effective_date, rate_card_id
        ) as valid_to_date

    from rate_cards

)

select * from final
