{#- Every functional currency of a legal entity needs a rate into the reporting currency
    for every month the model covers (its months come from the ERP accounting periods,
    each of which has at least the identity row). Returns one row per missing
    currency and month. -#}
{% macro test_fx_rate_for_every_entity_month(model, legal_entities) %}

with

months as (
    select distinct month_start_date
    from {{ model }}
),

entity_currencies as (
    select distinct functional_currency_code as currency_code
    from {{ legal_entities }}
    where functional_currency_code is not null
),

expected as (
    select
        months.month_start_date,
        entity_currencies.currency_code
    from months
    cross join entity_currencies
),

missing as (
    select expected.*
    from expected
    left outer join {{ model }} as rates
        on
            expected.month_start_date = rates.month_start_date
            and expected.currency_code = rates.from_currency_code
    where rates.from_currency_code is null
)

select * from missing
{% endmacro %}
