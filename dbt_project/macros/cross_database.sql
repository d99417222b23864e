{#- Cross-database SQL that dbt-core has no macro for. Month arithmetic uses dbt-core's own
    cross-database macros, which dbt-duckdb and dbt-postgres dispatch: dbt.dateadd,
    dbt.datediff, dbt.last_day, dbt.date_trunc. Month and day series are plain SQL both
    engines accept (`generate_series(timestamp, timestamp, interval)` as a FROM item, see
    int_calendar_months); dbt.date_spine does not fit them, as it counts its intervals with
    a query when the model is compiled, before the tables its bounds come from are built.
    What is left here, one macro each, dispatched on the adapter (`adapter.dispatch`,
    resolved in this project: no hub packages): strftime/to_char, ISO week-date parts,
    exact integer division. The duckdb__ versions are the SQL the models always ran on
    DuckDB; the postgres__ versions return the same values and types. sqlfluff's jinja
    templater has no `adapter`: it lints the duckdb__ version, the one the default build
    runs. Another adapter (Snowflake, BigQuery) needs its own <adapter>__ versions. -#}

{% macro format_date(date_expression, format) -%}
    {#- A date as text in a strftime format; %Y %y %m %d %b are the codes PostgreSQL gets
        translated (to_char). -#}
    {%- set implementation = adapter.dispatch('format_date') if adapter is defined
        else duckdb__format_date -%}
    {{ implementation(date_expression, format) }}
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


{% macro iso_date_part(datepart, date_expression) -%}
    {#- A part of a date's ISO-8601 week date as an integer: isoyear (the week-numbering
        year), week (1 to 53) or isodow (the weekday, Monday 1 to Sunday 7). -#}
    {%- set implementation = adapter.dispatch('iso_date_part') if adapter is defined
        else duckdb__iso_date_part -%}
    {{ implementation(datepart, date_expression) }}
{%- endmacro %}

{% macro duckdb__iso_date_part(datepart, date_expression) -%}
    extract({{ datepart }} from {{ date_expression }})
{%- endmacro %}

{% macro postgres__iso_date_part(datepart, date_expression) -%}
    cast(extract({{ datepart }} from {{ date_expression }}) as integer)
{%- endmacro %}


{% macro integer_division(numerator, denominator) -%}
    {#- Integer division truncated toward zero, for exact integers as wide as 38 digits:
        DuckDB's HUGEINT `//`, PostgreSQL's numeric div(). -#}
    {%- set implementation = adapter.dispatch('integer_division') if adapter is defined
        else duckdb__integer_division -%}
    {{ implementation(numerator, denominator) }}
{%- endmacro %}

{% macro duckdb__integer_division(numerator, denominator) -%}
    (({{ numerator }}) // ({{ denominator }}))
{%- endmacro %}

{% macro postgres__integer_division(numerator, denominator) -%}
    div({{ numerator }}, {{ denominator }})
{%- endmacro %}


{% macro exact_integer_type() -%}
    {#- The exact integer type wide enough for scaled money (HUGEINT / numeric(38, 0)). -#}
    {%- set implementation = adapter.dispatch('exact_integer_type') if adapter is defined
        else duckdb__exact_integer_type -%}
    {{ implementation() }}
{%- endmacro %}

{% macro duckdb__exact_integer_type() -%}
    hugeint
{%- endmacro %}

{% macro postgres__exact_integer_type() -%}
    numeric(38, 0)
{%- endmacro %}
