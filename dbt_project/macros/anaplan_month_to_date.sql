{% macro anaplan_month_to_date(column_name) -%}
    {#- Anaplan exports months as `Jan 26`. Blank means no month; anything else that does
        not parse raises an error, so a changed export format fails loudly. -#}
    {%- if adapter is defined -%}
        {{ adapter.dispatch('anaplan_month_to_date')(column_name) }}
    {%- else -%}
        {{ duckdb__anaplan_month_to_date(column_name) }}
    {%- endif -%}
{%- endmacro %}

{% macro duckdb__anaplan_month_to_date(column_name) -%}
    cast(strptime(nullif(trim({{ column_name }}), ''), '%b %y') as date)
{%- endmacro %}

{% macro postgres__anaplan_month_to_date(column_name) -%}
    to_date(nullif(trim({{ column_name }}), ''), 'Mon YY')
{%- endmacro %}
