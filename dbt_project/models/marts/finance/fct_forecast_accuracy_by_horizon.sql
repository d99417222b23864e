-- Forecast accuracy rolled up per horizon, legal entity, practice and billing type, over
-- every closed month and version of fct_forecast_accuracy:
--   mape            = mean of absolute_percentage_error over the rows whose actual is not 0
--                     (Σ of the rows' ratios ÷ their count)
--   wape            = Σ |forecast − actual| ÷ Σ |actual|
--   bias_percentage = Σ (forecast − actual) ÷ Σ actual (positive: forecasts ran high)
-- Ratios to 6 decimals, exact (divide_to_ratio). A row with an unknown amount leaves
-- every figure of its group unknown (a total that would leave it out would look right and
-- be wrong).
with

accuracy as (

    select * from {{ ref('fct_forecast_accuracy') }}

),

rolled_up as (

    select
        horizon_months,
        legal_entity_code,
        practice,
        billing_type,
        count(*) as version_month_count,
        count(*) filter (where actual_revenue <> 0) as nonzero_actual_count,
        {{ strict_sum('forecast_revenue') }} as forecast_revenue,
        {{ strict_sum('actual_revenue') }} as actual_revenue,
        {{ strict_sum('forecast_error') }} as forecast_error,
        {{ strict_sum('absolute_error') }} as absolute_error,
        {{ strict_sum('abs(actual_revenue)') }} as absolute_actual_revenue,
        {{ strict_sum('case when actual_revenue <> 0 then absolute_percentage_error else 0 end') }}
            as absolute_percentage_error_sum,
        count(*) filter (where forecast_revenue is null or actual_revenue is null) = 0
            as is_known
    from accuracy
    group by horizon_months, legal_entity_code, practice, billing_type

),

final as (

    select
        -- ids
        horizon_months,
        legal_entity_code,
        practice,
        cast(billing_type as varchar) as billing_type,

        -- strings
        cast({{ reporting_currency() }} as varchar) as reporting_currency_code,

        -- numerics
        cast(version_month_count as integer) as version_month_count,
        cast(forecast_revenue as decimal(18, 2)) as forecast_revenue,
        cast(actual_revenue as decimal(18, 2)) as actual_revenue,
        cast(forecast_error as decimal(18, 2)) as forecast_error,
        cast(absolute_error as decimal(18, 2)) as absolute_error,
        {{ divide_to_ratio(
            'case when is_known then absolute_percentage_error_sum end', 'nonzero_actual_count'
        ) }} as mape,
        {{ divide_to_ratio('absolute_error', 'absolute_actual_revenue') }} as wape,
        {{ divide_to_ratio('forecast_error', 'actual_revenue') }} as bias_percentage

    from rolled_up

)

select * from final
