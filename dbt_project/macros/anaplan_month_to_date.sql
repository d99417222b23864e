{% macro anaplan_month_to_date(column_name) -%}
    {#- Anaplan exports months as `Jan 26`. Blank means no month; anything else that does
        not parse raises an error, so a changed export format fails loudly. -#}
    {%- set implementation = adapter.dispatch('anaplan_month_to_date') if adapter is defined
        else duckdb__anaplan_month_to_date -%}
    {{ implementation(column_name) }}
{%- endmacro %}

{% macro duckdb__anaplan_month_to_date(column_name) -%}
    cast(strptime(nullif(trim({{ column_name }}), ''), '%b %y') as date)
{%- endmacro %}

{% macro postgres__anaplan_month_to_date(column_name) -%}
    to_date(nullif(trim({{ column_name }}), ''), 'Mon YY')
{%- endmacro %}
