{#- A plain macro named test_<name> is a generic test to dbt and, unlike a `{% test %}`
    block, also loads in sqlfluff's jinja templater, which reads this folder. -#}
{% macro test_lists_every_row(
    model, column_name, from_model, from_column, from_where, listed_where=none
) %}
{#- Fails for every row of from_model matching from_where whose from_column value is not
    in the model's column: e.g. every excluded time entry must be listed as an exception.
    listed_where (optional, on the model's columns) says how it must be listed, e.g. with
    which reason. -#}

with

expected as (
    select {{ from_column }} as expected_value
    from {{ from_model }}
    where {{ from_where }}
),

missing as (
    select expected.expected_value
    from expected
    where not exists (
        select 1
        from {{ model }} as listed
        where
            listed.{{ column_name }} = expected.expected_value
            {% if listed_where %}and ({{ listed_where }}){% endif %}
    )
)

select * from missing
{% endmacro %}
