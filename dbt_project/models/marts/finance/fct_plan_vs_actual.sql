-- The planning tool's revenue targets against what happened and what is forecast, per plan
-- version × legal entity × practice × month: one row for every target cell of every plan
-- version Anaplan exports. The target (in the entity's currency) is converted to the
-- reporting currency at its month's average rate, as the forecast is; it is compared with
-- fct_revenue_forecast.total_forecast_revenue, the actual revenue of a closed month or the
-- forecast of the as-of month and later. A month outside the forecast's window (before its
-- first actual month or after its last forecast month) has no actual or forecast: the row
-- is kept with empty figures. Inside the window an entity and practice without a forecast
-- row had no revenue and no forecast: 0.
with

targets as (

    select * from {{ ref('stg_planning__targets') }}

),

plan_versions as (

    select * from {{ ref('stg_planning__plan_versions') }}

),

forecast as (

    select * from {{ ref('fct_revenue_forecast') }}

),

fx_rates as (

    select * from {{ ref('dim_fx_rate') }}

),

forecast_months as (

    select distinct
        month_start_date,
        is_forecast
    from forecast

),

targets_converted as (

    select
        targets.plan_version_code,
        targets.legal_entity_code,
        targets.practice,
        targets.month_start_date,
        targets.currency_code,
        targets.revenue_target_amount,
        {{ convert_to_cents(
            'targets.revenue_target_amount',
            rate_to_reporting('fx_rates.average_rate', 'targets.currency_code')
        ) }} as revenue_target_reporting
    from targets
    left outer join fx_rates
        on
            targets.currency_code = fx_rates.from_currency_code
            and targets.month_start_date = fx_rates.month_start_date

),

joined as (

    select
        targets_converted.*,
        plan_versions.plan_version_name,
        coalesce(plan_versions.is_current, false) as is_current_plan_version,
        coalesce(plan_versions.is_locked, false) as is_locked,
        forecast_months.month_start_date is not null as is_in_forecast_window,
        forecast_months.is_forecast,
        case
            when forecast_months.month_start_date is null then null
            when forecast_months.is_forecast then null
            when forecast.legal_entity_code is null then 0
            else forecast.actual_revenue
        end as actual_revenue,
        case
            when forecast_months.month_start_date is null then null
            when not forecast_months.is_forecast then null
            when forecast.legal_entity_code is null then 0
            else forecast.total_forecast_revenue
        end as forecast_revenue
    from targets_converted
    left outer join plan_versions
        on targets_converted.plan_version_code = plan_versions.plan_version_code
    left outer join forecast_months
        on targets_converted.month_start_date = forecast_months.month_start_date
    left outer join forecast
        on
            targets_converted.legal_entity_code = forecast.legal_entity_code
            and targets_converted.practice = forecast.practice
            and targets_converted.month_start_date = forecast.month_start_date

),

compared as (

    select
        *,
        coalesce(actual_revenue, forecast_revenue) as actual_or_forecast_revenue,
        coalesce(actual_revenue, forecast_revenue) - revenue_target_reporting
            as variance_amount_reporting
    from joined

),

final as (

    select
        -- ids
        plan_version_code,
        legal_entity_code,
        practice,
        month_start_date,

        -- strings
        plan_version_name,
        currency_code as target_currency_code,
        cast({{ reporting_currency() }} as varchar) as reporting_currency_code,

        -- numerics
        cast(revenue_target_amount as decimal(18, 2)) as revenue_target_amount,
        cast(revenue_target_reporting as decimal(18, 2)) as revenue_target_reporting,
        cast(actual_revenue as decimal(18, 2)) as actual_revenue,
        cast(forecast_revenue as decimal(18, 2)) as forecast_revenue,
        cast(actual_or_forecast_revenue as decimal(18, 2)) as actual_or_forecast_revenue,
        cast(variance_amount_reporting as decimal(18, 2)) as variance_amount_reporting,
        {{ divide_to_cents('100 * variance_amount_reporting', 'revenue_target_reporting') }}
            as variance_pct,

        -- booleans
        is_current_plan_version,
        is_locked,
        is_in_forecast_window,
        is_forecast,

        -- dates
        {{ as_of_date() }} as as_of_date

    from compared

)

select * from final
