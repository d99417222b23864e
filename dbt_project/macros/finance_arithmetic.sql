{#- Exact money arithmetic. DuckDB divides DECIMALs as DOUBLE, so a quotient that must be
    right to the cent is computed on scaled HUGEINTs instead (numeric(38, 0) and div() on
    PostgreSQL, see cross_database.sql); products and sums of DECIMALs stay exact. All
    round half away from zero, as DuckDB's DECIMAL round() and PostgreSQL's numeric round()
    do. Note that DuckDB types a DECIMAL product with the wider factor's width and the
    summed scales (DECIMAL(18,2) × DECIMAL(18,8) is DECIMAL(18,10), which overflows above
    10^8), so a factor that can be large is cast to DECIMAL(38, s) before multiplying. -#}

{% macro round_to_cents(expression) -%}
    cast(round({{ expression }}, 2) as decimal(18, 2))
{%- endmacro %}

{% macro divide_to_cents(numerator, denominator) -%}
    {#- numerator ÷ denominator rounded to cents without a DOUBLE in between: both sides are
        scaled by 10^8 to HUGEINT (exact for up to 8 decimals and 20 integer digits), then
        cents = (200·|n| + |d|) div (2·|d|), signed. Null when the denominator is 0 or null. -#}
    {%- set integer = exact_integer_type() -%}
    cast(
        sign({{ numerator }}) * sign(nullif({{ denominator }}, 0))
        * {{ integer_division(
            '200 * abs(cast(round(cast(' ~ numerator ~ ' as decimal(38, 10)) * 100000000) as '
            ~ integer ~ '))'
            ~ ' + abs(cast(round(cast(' ~ denominator ~ ' as decimal(38, 10)) * 100000000) as '
            ~ integer ~ '))',
            '2 * abs(cast(round(cast(nullif(' ~ denominator ~ ', 0) as decimal(38, 10)) * 100000000) as '
            ~ integer ~ '))'
        ) }}
        * 0.01 as decimal(18, 2)
    )
{%- endmacro %}

{% macro strict_sum(expression) -%}
    {#- A sum that is unknown (null) when any summed amount is unknown, e.g. not convertible
        for a missing FX rate: a total that silently leaves a part out would look right
        and be wrong. Aggregate real rows with it, not an outer-joined spine. -#}
    case
        when count(*) filter (where ({{ expression }}) is null) = 0
            then sum({{ expression }})
    end
{%- endmacro %}

{% macro convert_to_cents(amount, rate) -%}
    {#- amount × FX rate rounded to cents; zero stays zero even without a rate (nothing
        to convert), any other amount without a rate stays unknown (null). -#}
    case
        when ({{ amount }}) = 0 then cast(0 as decimal(18, 2))
        else {{ round_to_cents('cast(' ~ amount ~ ' as decimal(38, 6)) * (' ~ rate ~ ')') }}
    end
{%- endmacro %}

{% macro rate_to_reporting(rate_column, currency_column) -%}
    {#- The FX rate of a currency into the reporting currency: 1 for the reporting currency
        itself in any month (dim_fx_rate has identity rows only for ERP periods), else the
        joined dim_fx_rate column, null when the ERP has no rate for that month. -#}
    case
        when {{ currency_column }} = {{ reporting_currency() }} then cast(1 as decimal(18, 8))
        else {{ rate_column }}
    end
{%- endmacro %}

{% macro cross_rate_to_cents(amount, from_currency, from_rate, to_currency, to_rate) -%}
    {#- An amount in one currency expressed in another through the reporting currency, at
        both currencies' rates of the same month (a cross rate: amount × rate(from) ÷
        rate(to)), exact and rounded to cents; in the same currency, the amount rounded.
        The rates are the joined fx columns (rate_to_reporting() applies); without one the
        result is unknown (null). -#}
    case
        when {{ from_currency }} = {{ to_currency }} then {{ round_to_cents(amount) }}
        else {{ divide_to_cents(
            'cast(' ~ amount ~ ' as decimal(38, 4)) * '
            ~ rate_to_reporting(from_rate, from_currency),
            rate_to_reporting(to_rate, to_currency)
        ) }}
    end
{%- endmacro %}
