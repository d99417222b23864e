-- How good each forecast version was, once its months closed: for every month that is
-- actual in this run's version (fct_revenue_forecast_versions, as of this run) and every
-- earlier version that forecast it 1-12 months ahead, per legal entity, practice and
-- billing type (plus `all`, the whole forecast, weighted pipeline included):
--   horizon_months            = months from the version's as-of month to the month
--   forecast_error            = forecast − actual (positive: the forecast was too high)
--   absolute_percentage_error = |forecast − actual| ÷ |actual| (empty when actual is 0)
--   bias_percentage           = (forecast − actual) ÷ actual (signed; empty when actual is 0)
-- Ratios to 6 decimals, exact (divide_to_ratio). A cell a version or the actuals do not
-- have is 0 (nothing was forecast, or nothing came in; a billing type with neither has no
-- row); an amount that could not be converted leaves its row's figures unknown.
with

versions as (

    select * from {{ ref('fct_revenue_forecast_versions') }}

),

compared_cells as (

    -- This run's actual months and what earlier versions forecast.
    select * from versions
    where
        (as_of_date = {{ as_of_date() }} and not is_forecast)
        or (as_of_date < {{ as_of_date() }} and is_forecast)

),

cell_totals as (

    -- By billing type, and `all`: every billing type and the weighted pipeline.
    select
        as_of_date,
        legal_entity_code,
        practice,
        month_start_date,
        billing_type,
        revenue
    from compared_cells
    where billing_type <> 'pipeline'
    union all
    select
        as_of_date,
        legal_entity_code,
        practice,
        month_start_date,
        'all' as billing_type,
        {{ strict_sum('revenue') }} as revenue
    from compared_cells
    group by as_of_date, legal_entity_code, practice, month_start_date

),

actual_totals as (

    select * from cell_totals
    where as_of_date = {{ as_of_date() }}

),

forecast_totals as (

    select * from cell_totals
    where as_of_date < {{ as_of_date() }}

),

version_months as (

    -- Each earlier version and closed month it forecast 1-12 months ahead.
    select distinct
        forecast_totals.as_of_date,
        forecast_totals.month_start_date,
        {{ dbt.datediff(
            "cast(date_trunc('month', forecast_totals.as_of_date) as date)",
            'forecast_totals.month_start_date',
            'month'
        ) }} as horizon_months
    from forecast_totals
    where
        forecast_totals.month_start_date
        in (select actual_totals.month_start_date from actual_totals)

),

horizon_version_months as (

    select * from version_months
    where horizon_months between 1 and 12

),

cells as (

    select
        horizon_version_months.as_of_date,
        horizon_version_months.month_start_date,
        horizon_version_months.horizon_months,
        forecast_totals.legal_entity_code,
        forecast_totals.practice
    from horizon_version_months
    inner join forecast_totals
        on
            horizon_version_months.as_of_date = forecast_totals.as_of_date
            and horizon_version_months.month_start_date = forecast_totals.month_start_date
    union
    select
        horizon_version_months.as_of_date,
        horizon_version_months.month_start_date,
        horizon_version_months.horizon_months,
        actual_totals.legal_entity_code,
        actual_totals.practice
    from horizon_version_months
    inner join actual_totals
        on horizon_version_months.month_start_date = actual_totals.month_start_date

),

billing_types as (

    select billing_type_values.billing_type
    from (
        values ('time_and_materials'), ('fixed_fee'), ('milestone'), ('retainer'), ('all')
    ) as billing_type_values (billing_type)

),

compared as (

    select
        cells.as_of_date,
        cells.legal_entity_code,
        cells.practice,
        cells.month_start_date,
        billing_types.billing_type,
        cells.horizon_months,
        case
            when forecast_totals.legal_entity_code is null then 0 else forecast_totals.revenue
        end as forecast_revenue,
        case
            when actual_totals.legal_entity_code is null then 0 else actual_totals.revenue
        end as actual_revenue
    from cells
    cross join billing_types
    left outer join forecast_totals
        on
            cells.as_of_date = forecast_totals.as_of_date
            and cells.legal_entity_code = forecast_totals.legal_entity_code
            and cells.practice = forecast_totals.practice
            and cells.month_start_date = forecast_totals.month_start_date
            and billing_types.billing_type = forecast_totals.billing_type
    left outer join actual_totals
        on
            cells.legal_entity_code = actual_totals.legal_entity_code
            and cells.practice = actual_totals.practice
            and cells.month_start_date = actual_totals.month_start_date
            and billing_types.billing_type = actual_totals.billing_type

),

final as (

    select
        -- ids
        as_of_date,
        legal_entity_code,
        practice,
        month_start_date,
        cast(billing_type as varchar) as billing_type,

        -- strings
        cast({{ reporting_currency() }} as varchar) as reporting_currency_code,

        -- numerics
        cast(horizon_months as integer) as horizon_months,
        cast(forecast_revenue as decimal(18, 2)) as forecast_revenue,
        cast(actual_revenue as decimal(18, 2)) as actual_revenue,
        cast(forecast_revenue - actual_revenue as decimal(18, 2)) as forecast_error,
        cast(abs(forecast_revenue - actual_revenue) as decimal(18, 2)) as absolute_error,
        {{ divide_to_ratio('abs(forecast_revenue - actual_revenue)', 'abs(actual_revenue)') }}
            as absolute_percentage_error,
        {{ divide_to_ratio('forecast_revenue - actual_revenue', 'actual_revenue') }}
            as bias_percentage,

        -- dates
        {{ as_of_date() }} as actuals_as_of_date

    from compared
    -- Nothing forecast and nothing came in: nothing to judge.
    where not coalesce(forecast_revenue = 0 and actual_revenue = 0, false)

)

select * from final
