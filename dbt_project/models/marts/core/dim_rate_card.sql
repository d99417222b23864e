-- Bill-rate side of the HRIS rate card as validity intervals, as int_rate_card_bill_rates
-- builds it, under the mart's contract; the standard cost rate of the same lines is in
-- restricted.int_rate_card_cost_rates.
with

rate_cards as (

    select * from {{ ref('int_rate_card_bill_rates') }}

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
        standard_bill_rate,

        -- dates
        valid_from_date,
        valid_to_date

    from rate_cards

)

select * from final
