{% macro date_key(id_column, date_column) -%}
    {#- `<id>-<yyyymmdd>`: the key of a day-grain row unpivoted or spread from a parent. -#}
    {{ id_column }} || '-' || {{ format_date(date_column, '%Y%m%d') }}
{%- endmacro %}
