{#- Cross-database SQL: the few expressions DuckDB and PostgreSQL spell differently, one
    macro each, dispatched on the adapter (`adapter.dispatch`, resolved in this project: no
    hub packages). The duckdb__ versions are the SQL the models used before, unchanged, so
    the DuckDB build is the same; the postgres__ versions return the same values and types.
    Everything else in the models is written in SQL both engines accept. sqlfluff's jinja
    templater has no `adapter`: it lints the duckdb__ version, the one the default build runs.
    Another adapter (Snowflake, BigQuery) needs its own <adapter>__ versions. -#}

{% macro add_months(date_expression, months) -%}
    {#- date_expression + months calendar months, as a TIMESTAMP (cast it to date). -#}
    {%- if adapter is defined -%}
        {{ adapter.dispatch('add_months')(date_expression, months) }}
    {%- else -%}
        {{ duckdb__add_months(date_expression, months) }}
    {%- endif -%}
{%- endmacro %}

{% macro duckdb__add_months(date_expression, months) -%}
    {{ date_expression }} + to_months({{ months }})
{%- endmacro %}

{% macro postgres__add_months(date_expression, months) -%}
    {{ date_expression }} + ({{ months }}) * interval '1 month'
{%- endmacro %}


{% macro month_end(date_expression) -%}
    {#- Last day of the month of date_expression, as a DATE. -#}
    {%- if adapter is defined -%}
        {{ adapter.dispatch('month_end')(date_expression) }}
    {%- else -%}
        {{ duckdb__month_end(date_expression) }}
    {%- endif -%}
{%- endmacro %}

{% macro duckdb__month_end(date_expression) -%}
    last_day({{ date_expression }})
{%- endmacro %}

{% macro postgres__month_end(date_expression) -%}
    cast(date_trunc('month', {{ date_expression }}) + interval '1 month - 1 day' as date)
{%- endmacro %}


{% macro months_between(start_date, end_date) -%}
    {#- Month boundaries crossed from start_date to end_date (Jan 31 to Feb 1 is 1), as an
        integer. -#}
    {%- if adapter is defined -%}
        {{ adapter.dispatch('months_between')(start_date, end_date) }}
    {%- else -%}
        {{ duckdb__months_between(start_date, end_date) }}
    {%- endif -%}
{%- endmacro %}

{% macro duckdb__months_between(start_date, end_date) -%}
    datediff('month', {{ start_date }}, {{ end_date }})
{%- endmacro %}

{% macro postgres__months_between(start_date, end_date) -%}
    cast(
        (extract(year from {{ end_date }}) - extract(year from {{ start_date }})) * 12
        + extract(month from {{ end_date }}) - extract(month from {{ start_date }})
        as integer
    )
{%- endmacro %}


{% macro date_series(start_date, end_date, step) -%}
    {#- A FROM item: one row per step from start_date through end_date (both inclusive);
        alias it with a column name, `... as month_starts (month_start_date)`, and cast that
        column to date. The bounds may be columns of a table earlier in the FROM clause. -#}
    {%- if adapter is defined -%}
        {{ adapter.dispatch('date_series')(start_date, end_date, step) }}
    {%- else -%}
        {{ duckdb__date_series(start_date, end_date, step) }}
    {%- endif -%}
{%- endmacro %}

{% macro duckdb__date_series(start_date, end_date, step) -%}
    unnest(generate_series({{ start_date }}, {{ end_date }}, {{ step }}))
{%- endmacro %}

{% macro postgres__date_series(start_date, end_date, step) -%}
    generate_series(
        cast({{ start_date }} as timestamp), cast({{ end_date }} as timestamp), {{ step }}
    )
{%- endmacro %}


{% macro format_date(date_expression, format) -%}
    {#- A date as text in a strftime format; %Y %y %m %d %b are the codes PostgreSQL gets
        translated (to_char). -#}
    {%- if adapter is defined -%}
        {{ adapter.dispatch('format_date')(date_expression, format) }}
    {%- else -%}
        {{ duckdb__format_date(date_expression, format) }}
    {%- endif -%}
{%- endmacro %}

{% macro duckdb__format_date(date_expression, format) -%}
    strftime({{ date_expression }}, '{{ format }}')
{%- endmacro %}

{% macro postgres__format_date(date_expression, format) -%}
    to_char({{ date_expression }}, '{{ strftime_to_pattern(format) }}')
{%- endmacro %}

{% macro strftime_to_pattern(format) -%}
    {#- strftime codes as PostgreSQL to_char / to_date template patterns. -#}
    {%- set codes = {'%Y': 'YYYY', '%y': 'YY', '%m': 'MM', '%d': 'DD', '%b': 'Mon'} -%}
    {%- set pattern = namespace(text=format) -%}
    {%- for code, replacement in codes.items() -%}
        {%- set pattern.text = pattern.text | replace(code, replacement) -%}
    {%- endfor -%}
    {{ pattern.text }}
{%- endmacro %}


{% macro iso_day_of_week(date_expression) -%}
    {#- ISO weekday, Monday 1 to Sunday 7. -#}
    {%- if adapter is defined -%}
        {{ adapter.dispatch('iso_day_of_week')(date_expression) }}
    {%- else -%}
        {{ duckdb__iso_day_of_week(date_expression) }}
    {%- endif -%}
{%- endmacro %}

{% macro duckdb__iso_day_of_week(date_expression) -%}
    isodow({{ date_expression }})
{%- endmacro %}

{% macro postgres__iso_day_of_week(date_expression) -%}
    cast(extract(isodow from {{ date_expression }}) as integer)
{%- endmacro %}


{% macro iso_year(date_expression) -%}
    {#- The ISO-8601 week-numbering year. -#}
    {%- if adapter is defined -%}
        {{ adapter.dispatch('iso_year')(date_expression) }}
    {%- else -%}
        {{ duckdb__iso_year(date_expression) }}
    {%- endif -%}
{%- endmacro %}

{% macro duckdb__iso_year(date_expression) -%}
    isoyear({{ date_expression }})
{%- endmacro %}

{% macro postgres__iso_year(date_expression) -%}
    cast(extract(isoyear from {{ date_expression }}) as integer)
{%- endmacro %}


{% macro iso_week(date_expression) -%}
    {#- The ISO-8601 week number, 1 to 53. -#}
    {%- if adapter is defined -%}
        {{ adapter.dispatch('iso_week')(date_expression) }}
    {%- else -%}
        {{ duckdb__iso_week(date_expression) }}
    {%- endif -%}
{%- endmacro %}

{% macro duckdb__iso_week(date_expression) -%}
    weekofyear({{ date_expression }})
{%- endmacro %}

{% macro postgres__iso_week(date_expression) -%}
    cast(extract(week from {{ date_expression }}) as integer)
{%- endmacro %}


{% macro integer_division(numerator, denominator) -%}
    {#- Integer division truncated toward zero, for exact integers as wide as 38 digits:
        DuckDB's HUGEINT `//`, PostgreSQL's numeric div(). -#}
    {%- if adapter is defined -%}
        {{ adapter.dispatch('integer_division')(numerator, denominator) }}
    {%- else -%}
        {{ duckdb__integer_division(numerator, denominator) }}
    {%- endif -%}
{%- endmacro %}

{% macro duckdb__integer_division(numerator, denominator) -%}
    (({{ numerator }}) // ({{ denominator }}))
{%- endmacro %}

{% macro postgres__integer_division(numerator, denominator) -%}
    div({{ numerator }}, {{ denominator }})
{%- endmacro %}


{% macro exact_integer_type() -%}
    {#- The exact integer type wide enough for scaled money (HUGEINT / numeric(38, 0)). -#}
    {%- if adapter is defined -%}
        {{ adapter.dispatch('exact_integer_type')() }}
    {%- else -%}
        {{ duckdb__exact_integer_type() }}
    {%- endif -%}
{%- endmacro %}

{% macro duckdb__exact_integer_type() -%}
    hugeint
{%- endmacro %}

{% macro postgres__exact_integer_type() -%}
    numeric(38, 0)
{%- endmacro %}
