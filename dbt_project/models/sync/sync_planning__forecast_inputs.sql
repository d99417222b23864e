-- What the Anaplan forecast-input import receives: one row per legal entity, practice,
-- forecast month and line item, for the current plan version, in the reporting currency.
-- Only forecast months (the as-of month on) inside the version's time range are sent;
-- actual months are Anaplan's own. A null value (an amount that could not be converted)
-- fails this model's not_null test, which blocks the reverse sync instead of clearing a
-- cell in the planning tool.
with

revenue_forecasts as (

    select * from {{ ref('fct_revenue_forecast') }}

),

plan_versions as (

    select * from {{ ref('stg_planning__plan_versions') }}

),

current_plan_version as (

    select
        plan_version_code,
        first_month_start_date,
        last_month_start_date
    from plan_versions
    where is_current

),

line_items as (

    -- The forecast unpivoted: one row per forecast month and line item of the import.
    select
        revenue_forecasts.legal_entity_code,
        revenue_forecasts.practice,
        revenue_forecasts.month_start_date,
        line_item_values.line_item,
        line_item_values.line_item_value
    from revenue_forecasts
    cross join
        lateral (
            values
            ('Scheduled Revenue', revenue_forecasts.scheduled_revenue),
            ('Weighted Pipeline', revenue_forecasts.weighted_pipeline_revenue),
            ('Forecast Revenue', revenue_forecasts.total_forecast_revenue)
        ) as line_item_values (line_item, line_item_value)
    where revenue_forecasts.is_forecast

),

final as (

    select
        -- ids
        line_items.legal_entity_code,
        line_items.practice,
        current_plan_version.plan_version_code,

        -- strings
        cast(line_items.line_item as varchar) as line_item,

        -- numerics
        -- `value` is the column name the Anaplan import maps (a keyword to sqlfluff).
        cast(line_items.line_item_value as decimal(18, 2)) as value,  -- noqa: RF04

        -- dates
        line_items.month_start_date

    from line_items
    inner join current_plan_version
        on
            line_items.month_start_date >= coalesce(
                current_plan_version.first_month_start_date, line_items.month_start_date
            )
            and line_items.month_start_date <= coalesce(
                current_plan_version.last_month_start_date, line_items.month_start_date
            )

)

select * from final
