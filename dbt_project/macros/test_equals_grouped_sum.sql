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

with

summed_rows as (

    select
        {{ keys }},
        true as is_model,
        {{ column_name }} as summed_value
    from {{ model }}
    union all
    select
        {{ keys }},
        false as is_model,
        {{ compare_column }} as summed_value
    from {{ compare_model }}
    where
        {{ compare_where }}
    {%- if within_model_values_of %}
            and {{ within_model_values_of }} in (
                select {{ within_model_values_of }} from {{ model }}
            )
    {%- endif %}

),

{#- Both sides grouped together, so every group of either side is there once (unknown, null,
    keys too: PostgreSQL cannot full outer join on `is not distinct from`). #}
differences as (

    select
        {{ keys }},
        sum(summed_value) filter (where is_model) as model_value,
        sum(summed_value) filter (where not is_model) as compared_value,
        count(*) filter (where is_model and summed_value is null) > 0 as is_model_unknown,
        count(*) filter (where not is_model and summed_value is null) > 0 as is_compared_unknown
    from summed_rows
    group by {{ keys }}

)

select * from differences
where
    is_model_unknown <> is_compared_unknown
    or (
        not is_model_unknown
        and coalesce(model_value, 0) <> coalesce(compared_value, 0)
    )
{% endmacro %}
