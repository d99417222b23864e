{% macro as_of_date() -%}
    {#- The run's as-of date as a DATE literal: var('as_of_date') (YYYY-MM-DD), else env var
        AS_OF_DATE (the pipeline's setting, which dbt's process inherits), else today in the
        firm's time zone (FIRM_TIMEZONE, default UTC). A literal, not current_date, so every
        model of one run sees the same day and a past run can be reproduced exactly. A
        malformed date raises an error.
        The environment is read only when dbt executes (`execute`), never while it parses: dbt
        would record the value in its partial parse and parse every model again for the next
        run as of another day (a var passed with --vars makes it parse the whole project). -#}
    {%- set configured = var('as_of_date', none) -%}
    {%- if modules is not defined or not execute -%}
        {#- Parsing (the date is not needed), or sqlfluff's jinja templater (no dbt `modules`). -#}
        {%- set as_of = none -%}
    {%- else -%}
        {%- if configured is none or (configured | string | trim) == '' -%}
            {%- set configured = env_var('AS_OF_DATE', '') -%}
        {%- endif -%}
        {%- if (configured | string | trim) == '' -%}
            {%- set firm_timezone = modules.pytz.timezone(env_var('FIRM_TIMEZONE', 'UTC')) -%}
            {%- set as_of = modules.datetime.datetime.now(firm_timezone).date() -%}
        {%- else -%}
            {%- set as_of = modules.datetime.datetime.strptime(
                configured | string | trim, '%Y-%m-%d'
            ).date() -%}
        {%- endif -%}
    {%- endif -%}
    {%- if as_of is none %}current_date{% else %}date '{{ as_of.isoformat() }}'{% endif -%}
{%- endmacro %}

{% macro as_of_month_start() -%}
    {#- First day of the as-of month, the first forecast month. -#}
    cast(date_trunc('month', {{ as_of_date() }}) as date)
{%- endmacro %}

{% macro first_actual_month_start() -%}
    {#- First actual month: var('actual_months') months before the as-of month. -#}
    cast(
        {{ dbt.dateadd(
            'month', -(var('actual_months') | int), "date_trunc('month', " ~ as_of_date() ~ ")"
        ) }}
        as date
    )
{%- endmacro %}

{% macro last_forecast_month_start() -%}
    {#- Last forecast month: the as-of month plus var('forecast_months') - 1 months. -#}
    cast(
        {{ dbt.dateadd(
            'month', var('forecast_months') | int - 1, "date_trunc('month', " ~ as_of_date() ~ ")"
        ) }}
        as date
    )
{%- endmacro %}

{% macro in_forecast_window(date_expression) -%}
    {#- Whether a date (or a month's first day) falls in a forecast month: from the as-of
        month to the last forecast month, inclusive. The one definition of the window. -#}
    ({{ date_expression }} >= {{ as_of_month_start() }}
    and {{ date_expression }} < {{ dbt.dateadd('month', 1, last_forecast_month_start()) }})
{%- endmacro %}

{% macro reporting_currency() -%}
    {#- var('reporting_currency') as a SQL string literal. -#}
    '{{ var("reporting_currency") | upper }}'
{%- endmacro %}

{% macro run_started_at_timestamp() -%}
    {#- When this dbt invocation started (run_started_at, UTC, like every timestamp the loader
        and the sync write) as a TIMESTAMP literal: one moment for every model of a run, so
        the rows and lags of one build compare. sqlfluff's jinja templater has no
        run_started_at; it needs valid SQL only. -#}
    {%- if run_started_at is defined -%}
        cast('{{ run_started_at.strftime("%Y-%m-%d %H:%M:%S") }}' as timestamp)
    {%- else -%}
        current_timestamp
    {%- endif -%}
{%- endmacro %}
