-- Revenue actuals and forecast per legal entity, practice and month, in the reporting
-- currency: the var('actual_months') months before the as-of month are actuals
-- (recognized revenue, fct_project_margin), the as-of month and the var('forecast_months')
-- - 1 months after it are forecast (scheduled revenue + weighted pipeline). Every project-
-- or opportunity-month amount is converted at its month's average rate and rounded to
-- cents before it is summed. An amount that cannot be converted (no FX rate) makes its
-- total unknown (null) rather than silently smaller; fct_valuation_exceptions says which.
-- The forecast is computed once, in fct_revenue_forecast_versions (kept per as-of date, one
-- row per billing type); this model pivots the as-of date's version by billing type.
{%- set scheduled_billing_types = ['time_and_materials', 'fixed_fee', 'milestone', 'retainer'] %}

with

versions as (

    select * from {{ ref('fct_revenue_forecast_versions') }}

),

pivoted as (

    -- Every billing type of every cell has a row in the version (0 when nothing is expected,
    -- unknown when an amount could not be converted): a month's actual is all of them.
    select
        legal_entity_code,
        practice,
        month_start_date,
        is_forecast,
        case when not is_forecast then {{ strict_sum('revenue') }} end as actual_revenue,
        {% for billing_type in scheduled_billing_types -%}
            case
                when is_forecast
                    then {{ strict_sum(
                        "case when billing_type = '" ~ billing_type ~ "' then revenue else 0 end"
                    ) }}
            end as scheduled_{{ billing_type }}_revenue,
        {% endfor -%}
        case
            when is_forecast
                then {{ strict_sum("case when billing_type = 'pipeline' then revenue else 0 end") }}
        end as weighted_pipeline_revenue
    from versions
    where as_of_date = {{ as_of_date() }}
    group by legal_entity_code, practice, month_start_date, is_forecast

),

final as (

    select
        -- ids
        legal_entity_code,
        practice,
        month_start_date,

        -- strings
        cast({{ reporting_currency() }} as varchar) as reporting_currency_code,

        -- numerics
        cast(actual_revenue as decimal(18, 2)) as actual_revenue,
        cast(scheduled_time_and_materials_revenue as decimal(18, 2))
            as scheduled_time_and_materials_revenue,
        cast(scheduled_fixed_fee_revenue as decimal(18, 2)) as scheduled_fixed_fee_revenue,
        cast(scheduled_milestone_revenue as decimal(18, 2)) as scheduled_milestone_revenue,
        cast(scheduled_retainer_revenue as decimal(18, 2)) as scheduled_retainer_revenue,
        cast(
            scheduled_time_and_materials_revenue
            + scheduled_fixed_fee_revenue
            + scheduled_milestone_revenue
            + scheduled_retainer_revenue
            as decimal(18, 2)
        ) as scheduled_revenue,
        cast(weighted_pipeline_revenue as decimal(18, 2)) as weighted_pipeline_revenue,
        cast(
            case
                when is_forecast
                    then
                        scheduled_time_and_materials_revenue
                        + scheduled_fixed_fee_revenue
                        + scheduled_milestone_revenue
                        + scheduled_retainer_revenue
                        + weighted_pipeline_revenue
                else actual_revenue
            end as decimal(18, 2)
        ) as total_forecast_revenue,

        -- booleans
        is_forecast,

        -- dates
        {{ as_of_date() }} as as_of_date

    from pivoted

)

select * from final
