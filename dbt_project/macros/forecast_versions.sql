{#- Macros of the forecast history (models/marts/finance/_forecast_history__models.yml): the
    versions kept per as-of date, and the pair of versions the bridge compares. -#}

{% macro replace_forecast_version() -%}
    {#- Pre-hook of the models that keep one version per as-of date: before this run's version
        is appended, the rows of the same as-of date go, so a re-run replaces its version
        (also when the re-run has fewer rows, or none). Nothing to do on the first build. -#}
    {%- if is_incremental() -%}
        delete from {{ this }} where as_of_date = {{ as_of_date() }}
    {%- endif -%}
{%- endmacro %}

{% macro bridge_to_as_of_date() -%}
    {#- The later version of the bridge: var('bridge_to_as_of_date') (YYYY-MM-DD), by default
        this run's as-of date. -#}
    {%- set configured = var('bridge_to_as_of_date', none) -%}
    {%- if configured is none or (configured | string | trim) == '' -%}
        {{ as_of_date() }}
    {%- else -%}
        cast('{{ configured | string | trim }}' as date)
    {%- endif -%}
{%- endmacro %}

{% macro bridge_from_as_of_date(versions_relation) -%}
    {#- The earlier version of the bridge: var('bridge_from_as_of_date') (YYYY-MM-DD), by
        default the newest version before the later one (the reverse sync does not record
        which as-of date it sent, see docs/metrics.md). -#}
    {%- set configured = var('bridge_from_as_of_date', none) -%}
    {%- if configured is none or (configured | string | trim) == '' -%}
        (
            select max(earlier.as_of_date)
            from {{ versions_relation }} as earlier
            where earlier.as_of_date < {{ bridge_to_as_of_date() }}
        )
    {%- else -%}
        cast('{{ configured | string | trim }}' as date)
    {%- endif -%}
{%- endmacro %}

{% macro pipeline_month_amount(weighted_amount, delivery_months, is_last_month) -%}
    {#- An open opportunity's weighted revenue in one delivery month, in its currency, as
        int_opportunity_months_weighted spreads its weighted amount (round(amount ×
        probability ÷ 100, 2)): each month round(weighted ÷ delivery months, 2), the last
        month the remainder. The bridge values a deal at another probability or amount. -#}
    case
        when {{ is_last_month }}
            then {{ weighted_amount }} - {{ divide_to_cents(weighted_amount, delivery_months) }}
            * ({{ delivery_months }} - 1)
        else {{ divide_to_cents(weighted_amount, delivery_months) }}
    end
{%- endmacro %}

{% macro known_amount(column_name) -%}
    {#- A bridge driver as published: the amount, or null when the row is unknown. -#}
    cast(case when not is_unknown then {{ column_name }} end as decimal(18, 2))
{%- endmacro %}

{% macro divide_to_ratio(numerator, denominator) -%}
    {#- numerator ÷ denominator as a ratio to 6 decimals (0.25 = 25%), exact and rounded half
        away from zero like divide_to_cents (a DECIMAL division would go through DOUBLE in
        DuckDB); null when the denominator is 0 or null. -#}
    cast(
        {{ divide_to_cents('(' ~ numerator ~ ') * 10000', denominator) }} * 0.0001
        as decimal(18, 6)
    )
{%- endmacro %}

{% macro built_relation(relation) -%}
    {#- The relation if the warehouse has it, else none: a test can then skip what a partial
        run did not build. sqlfluff's templater has no warehouse: none. -#}
    {%- if execute and adapter is defined -%}
        {{ return(adapter.get_relation(
            database=relation.database, schema=relation.schema, identifier=relation.identifier
        )) }}
    {%- endif -%}
    {{ return(none) }}
{%- endmacro %}
