-- Revenue actuals and forecast per legal entity, practice and month, in the reporting
-- currency: the var('actual_months') months before the as-of month are actuals
-- (recognized revenue, fct_project_margin), the as-of month and the var('forecast_months')
-- - 1 months after it are forecast (scheduled revenue + weighted pipeline). Every project-
-- or opportunity-month amount is converted at its month's average rate and rounded to
-- cents before it is summed. An amount that cannot be converted (no FX rate) makes its
-- total unknown (null) rather than silently smaller; fct_valuation_exceptions says which.
with

project_margins as (

    select * from {{ ref('fct_project_margin') }}

),

scheduled_revenue_months as (

    select * from {{ ref('int_project_months_revenue_scheduled') }}

),

pipeline_months as (

    select * from {{ ref('int_opportunity_months_weighted') }}

),

fx_rates as (

    select * from {{ ref('dim_fx_rate') }}

),

months as (

    select * from {{ ref('int_calendar_months') }}

),

report_months as (

    select
        month_start_date,
        month_start_date >= {{ as_of_month_start() }} as is_forecast
    from months
    where
        month_start_date
        between {{ first_actual_month_start() }} and {{ last_forecast_month_start() }}

),

actual_revenue as (

    select
        legal_entity_code,
        practice,
        month_start_date,
        {{ strict_sum('revenue_reporting') }} as actual_revenue
    from project_margins
    where
        billing_type <> 'internal'
        and month_start_date >= {{ first_actual_month_start() }}
        and month_start_date < {{ as_of_month_start() }}
    group by legal_entity_code, practice, month_start_date

),

scheduled_converted as (

    select
        scheduled_revenue_months.legal_entity_code,
        scheduled_revenue_months.practice,
        scheduled_revenue_months.month_start_date,
        scheduled_revenue_months.billing_type,
        {{ convert_to_cents(
            'scheduled_revenue_months.scheduled_revenue',
            rate_to_reporting('fx_rates.average_rate', 'scheduled_revenue_months.currency_code')
        ) }} as scheduled_revenue_reporting
    from scheduled_revenue_months
    left outer join fx_rates
        on
            scheduled_revenue_months.currency_code = fx_rates.from_currency_code
            and scheduled_revenue_months.month_start_date = fx_rates.month_start_date

),

scheduled_revenue as (

    select
        legal_entity_code,
        practice,
        month_start_date,
        {{ strict_sum(
            "case when billing_type = 'time_and_materials' then scheduled_revenue_reporting"
            ~ " else 0 end"
        ) }} as scheduled_time_and_materials_revenue,
        {{ strict_sum(
            "case when billing_type = 'fixed_fee' then scheduled_revenue_reporting else 0 end"
        ) }} as scheduled_fixed_fee_revenue,
        {{ strict_sum(
            "case when billing_type = 'milestone' then scheduled_revenue_reporting else 0 end"
        ) }} as scheduled_milestone_revenue,
        {{ strict_sum(
            "case when billing_type = 'retainer' then scheduled_revenue_reporting else 0 end"
        ) }} as scheduled_retainer_revenue
    from scheduled_converted
    group by legal_entity_code, practice, month_start_date

),

pipeline_converted as (

    select
        pipeline_months.legal_entity_code,
        pipeline_months.practice,
        pipeline_months.month_start_date,
        {{ convert_to_cents(
            'pipeline_months.weighted_revenue',
            rate_to_reporting('fx_rates.average_rate', 'pipeline_months.currency_code')
        ) }} as weighted_revenue_reporting
    from pipeline_months
    left outer join fx_rates
        on
            pipeline_months.currency_code = fx_rates.from_currency_code
            and pipeline_months.month_start_date = fx_rates.month_start_date
    where
        pipeline_months.month_start_date between {{ as_of_month_start() }}
        and {{ last_forecast_month_start() }}

),

pipeline_revenue as (

    select
        legal_entity_code,
        practice,
        month_start_date,
        {{ strict_sum('weighted_revenue_reporting') }} as weighted_pipeline_revenue
    from pipeline_converted
    group by legal_entity_code, practice, month_start_date

),

entity_practices as (

    select
        legal_entity_code,
        practice
    from actual_revenue
    union
    select
        legal_entity_code,
        practice
    from scheduled_revenue
    union
    select
        legal_entity_code,
        practice
    from pipeline_revenue

),

spine as (

    select
        entity_practices.legal_entity_code,
        entity_practices.practice,
        report_months.month_start_date,
        report_months.is_forecast
    from entity_practices
    cross join report_months
    where entity_practices.legal_entity_code is not null and entity_practices.practice is not null

),

joined as (

    -- A month with no rows in a source is 0; a group whose total is unknown stays null.
    select
        spine.legal_entity_code,
        spine.practice,
        spine.month_start_date,
        spine.is_forecast,
        case
            when spine.is_forecast then null
            when actual_revenue.legal_entity_code is null then 0
            else actual_revenue.actual_revenue
        end as actual_revenue,
        case
            when not spine.is_forecast then null
            when scheduled_revenue.legal_entity_code is null then 0
            else scheduled_revenue.scheduled_time_and_materials_revenue
        end as scheduled_time_and_materials_revenue,
        case
            when not spine.is_forecast then null
            when scheduled_revenue.legal_entity_code is null then 0
            else scheduled_revenue.scheduled_fixed_fee_revenue
        end as scheduled_fixed_fee_revenue,
        case
            when not spine.is_forecast then null
            when scheduled_revenue.legal_entity_code is null then 0
            else scheduled_revenue.scheduled_milestone_revenue
        end as scheduled_milestone_revenue,
        case
            when not spine.is_forecast then null
            when scheduled_revenue.legal_entity_code is null then 0
            else scheduled_revenue.scheduled_retainer_revenue
        end as scheduled_retainer_revenue,
        case
            when not spine.is_forecast then null
            when pipeline_revenue.legal_entity_code is null then 0
            else pipeline_revenue.weighted_pipeline_revenue
        end as weighted_pipeline_revenue
    from spine
    left outer join actual_revenue
        on
            spine.legal_entity_code = actual_revenue.legal_entity_code
            and spine.practice = actual_revenue.practice
            and spine.month_start_date = actual_revenue.month_start_date
    left outer join scheduled_revenue
        on
            spine.legal_entity_code = scheduled_revenue.legal_entity_code
            and spine.practice = scheduled_revenue.practice
            and spine.month_start_date = scheduled_revenue.month_start_date
    left outer join pipeline_revenue
        on
            spine.legal_entity_code = pipeline_revenue.legal_entity_code
            and spine.practice = pipeline_revenue.practice
            and spine.month_start_date = pipeline_revenue.month_start_date

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

    from joined

)

select * from final
