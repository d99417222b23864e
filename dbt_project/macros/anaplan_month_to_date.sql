{% macro anaplan_month_to_date(column_name) -%}
    {#- Anaplan exports months as `Jan 26`. Blank means no month; anything else that does
        not parse raises an error, so a changed export format fails loudly. -#}
    cast(strptime(nullif(trim({{ column_name }}), ''), '%b %y') as date)
{%- endmacro %}
