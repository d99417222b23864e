{% macro generate_schema_name(custom_schema_name, node) -%}
    {#- Use the folder's schema as written (`staging`, not `main_staging`): every target
        gets the same schema names, so Dagster and analysts find tables in one place. -#}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
