{#- A plain macro named test_<name> is a generic test to dbt and, unlike a `{% test %}`
    block, also loads in sqlfluff's jinja templater, which reads this folder. -#}
{% macro test_expression_is_true(model, expression) %}

with violations as (
    select *
    from {{ model }}
    where not coalesce(({{ expression }}), false)
)

select * from violations
{% endmacro %}
