{#- A plain macro named test_<name> is a generic test to dbt and, unlike a `{% test %}`
    block, also loads in sqlfluff's jinja templater, which reads this folder. -#}
{% macro test_has_no_rows(model) %}
{#- Fails (or, with severity warn, warns) with the model's row count when it has any rows:
    for models that list problems, so a build reports them. -#}

    select * from {{ model }}
{% endmacro %}
