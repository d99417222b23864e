{% macro rate_card_intervals(rate_column) -%}
    {#- The select list, over stg_hris__rate_cards, of one rate of the HRIS rate card as
        validity intervals: each line applies from its effective date until the next line's
        for the same role and legal entity (exclusive), the last one open. The bill rate is
        int_rate_card_bill_rates (marts.dim_rate_card), the cost rate
        restricted.int_rate_card_cost_rates: the same lines and intervals in two schemas. -#}
    -- ids
    rate_card_id,

    -- strings
    role_code,
    legal_entity_code,
    currency_code,

    -- numerics
    cast({{ rate_column }} as decimal(18, 2)) as {{ rate_column }},

    -- dates
    effective_date as valid_from_date,
    lead(effective_date) over (
        partition by role_code, legal_entity_code
        order by effective_date, rate_card_id
    ) as valid_to_date
{%- endmacro %}


{% macro valid_on(rates, day) -%}
    {#- True when the rate line `rates` (valid_from_date inclusive, valid_to_date exclusive,
        null: still valid) applies on `day`: the one rule every rate lookup by date uses
        (rate-card bill and cost rates, workers' cost rates). -#}
    {{ rates }}.valid_from_date <= {{ day }}
    and ({{ day }} < {{ rates }}.valid_to_date or {{ rates }}.valid_to_date is null)
{%- endmacro %}
