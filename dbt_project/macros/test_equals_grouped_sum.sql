{#- A plain macro named test_<name> is a generic test to dbt and, unlike a `{% test %}`
    block, also loads in sqlfluff's jinja templater, which reads this folder. -#}
{% macro test_equals_grouped_sum(
    model, column_name, compare_model, compare_column, group_by, compare_where='true',
    within_model_values_of=none
) %}
{#- Fails for every group (of the group_by columns) where the model's column differs from
    the sum of compare_column over compare_model's rows in that group: a missing group on
    either side counts as 0, and a sum over an unknown (null) amount is unknown, so an
    unknown on one side must be unknown on the other. The model is filtered by the test's
    own `where` config; compare_where filters compare_model, and within_model_values_of
    (a column, e.g. the month) keeps only compared rows whose value of it occurs in the
    filtered model, so the model's window decides what is compared. -#}
    {%- set keys = group_by | join(', ') %}
    {%- set on_model = [] %}
    {%- set on_compared = [] %}
    {%- for key in group_by %}
        {%- set same = 'all_groups.' ~ key ~ ' is not distinct from ' %}
        {%- set _ = on_model.append(same ~ 'model_values.' ~ key) %}
        {%- set _ = on_compared.append(same ~ 'compared_values.' ~ key) %}
    {%- endfor %}

with

model_values as (
    select
        {{ keys }},
        sum({{ column_name }}) as model_value,
        count(*) filter (where {{ column_name }} is null) > 0 as is_model_unknown
    from {{ model }}
    group by {{ keys }}
),

compared_values as (
    select
        {{ keys }},
        sum({{ compare_column }}) as compared_value,
        count(*) filter (where {{ compare_column }} is null) > 0 as is_compared_unknown
    from {{ compare_model }}
    where
        {{ compare_where }}
    {%- if within_model_values_of %}
            and {{ within_model_values_of }} in (
                select {{ within_model_values_of }} from {{ model }}
            )
    {%- endif %}
    group by {{ keys }}
),

{#- Every group on either side, then both sides joined to it: PostgreSQL cannot run a full
    outer join on `is not distinct from` keys. #}
all_groups as (
    select {{ keys }} from model_values
    union
    select {{ keys }} from compared_values
),

differences as (
    select
        {% for key in group_by -%}
    all_groups.{{ key }},
        {% endfor -%}
        model_values.model_value,
        compared_values.compared_value,
        coalesce(model_values.is_model_unknown, false) as is_model_unknown,
        coalesce(compared_values.is_compared_unknown, false) as is_compared_unknown
    from all_groups
    left outer join model_values
        on {{ on_model | join(' and ') }}
    left outer join compared_values
        on {{ on_compared | join(' and ') }}
)

select * from differences
where
    is_model_unknown <> is_compared_unknown
    or (
        not is_model_unknown
        and coalesce(model_value, 0) <> coalesce(compared_value, 0)
    )
{% endmacro %}
