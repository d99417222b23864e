-- The lines every revenue forecast version is made of, kept per as-of date: one row per
-- client project or open opportunity, month and billing type, with what the amount was
-- computed from (hours, the opportunity's amount, probability and close date, the FX
-- rate), in the line's currency and in the reporting currency exactly as
-- fct_revenue_forecast counts it. Actual months (before the as-of month) are recognized
-- revenue (fct_project_margin); forecast months are the schedule's revenue
-- (int_project_months_revenue_scheduled) and the weighted pipeline
-- (int_opportunity_months_weighted, billing type `pipeline`).
-- Incremental, one version per as-of date: a run deletes its as-of date's rows, then
-- appends them again (macros/forecast_versions.sql; the folder's config in
-- dbt_project.yml); full_refresh false keeps the history through the nightly
-- --full-refresh. fct_revenue_forecast_versions sums it; fct_revenue_forecast pivots that.

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

projects as (

    select * from {{ ref('int_projects_joined') }}

),

fx_rates as (

    select * from {{ ref('dim_fx_rate') }}

),

actual_lines as (

    select
        'project' as record_type,
        project_margins.project_id as record_id,
        project_margins.month_start_date,
        project_margins.billing_type,
        project_margins.legal_entity_code,
        project_margins.practice,
        project_margins.currency_code,
        projects.crm_opportunity_id,
        project_margins.hours_worked as hours,
        project_margins.revenue,
        project_margins.fx_average_rate,
        project_margins.revenue_reporting,
        cast(null as decimal(18, 2)) as opportunity_amount,
        cast(null as decimal(9, 2)) as probability_percent,
        cast(null as integer) as delivery_months,
        cast(null as date) as close_date,
        cast(null as date) as first_delivery_month_start_date
    from project_margins
    left outer join projects
        on project_margins.project_id = projects.project_id
    where
        project_margins.billing_type <> 'internal'
        and project_margins.month_start_date >= {{ first_actual_month_start() }}
        and project_margins.month_start_date < {{ as_of_month_start() }}

),

scheduled_lines as (

    select
        'project' as record_type,
        scheduled_revenue_months.project_id as record_id,
        scheduled_revenue_months.month_start_date,
        scheduled_revenue_months.billing_type,
        scheduled_revenue_months.legal_entity_code,
        scheduled_revenue_months.practice,
        scheduled_revenue_months.currency_code,
        projects.crm_opportunity_id,
        scheduled_revenue_months.scheduled_hours as hours,
        scheduled_revenue_months.scheduled_revenue as revenue,
        {{ rate_to_reporting('fx_rates.average_rate', 'scheduled_revenue_months.currency_code') }}
            as fx_average_rate,
        {{ convert_to_cents(
            'scheduled_revenue_months.scheduled_revenue',
            rate_to_reporting('fx_rates.average_rate', 'scheduled_revenue_months.currency_code')
        ) }} as revenue_reporting,
        cast(null as decimal(18, 2)) as opportunity_amount,
        cast(null as decimal(9, 2)) as probability_percent,
        cast(null as integer) as delivery_months,
        cast(null as date) as close_date,
        cast(null as date) as first_delivery_month_start_date
    from scheduled_revenue_months
    left outer join projects
        on scheduled_revenue_months.project_id = projects.project_id
    left outer join fx_rates
        on
            scheduled_revenue_months.currency_code = fx_rates.from_currency_code
            and scheduled_revenue_months.month_start_date = fx_rates.month_start_date

),

pipeline_lines as (

    select
        'opportunity' as record_type,
        pipeline_months.crm_opportunity_id as record_id,
        pipeline_months.month_start_date,
        'pipeline' as billing_type,
        pipeline_months.legal_entity_code,
        pipeline_months.practice,
        pipeline_months.currency_code,
        pipeline_months.crm_opportunity_id,
        cast(null as decimal(18, 2)) as hours,
        pipeline_months.weighted_revenue as revenue,
        {{ rate_to_reporting('fx_rates.average_rate', 'pipeline_months.currency_code') }}
            as fx_average_rate,
        {{ convert_to_cents(
            'pipeline_months.weighted_revenue',
            rate_to_reporting('fx_rates.average_rate', 'pipeline_months.currency_code')
        ) }} as revenue_reporting,
        pipeline_months.amount as opportunity_amount,
        pipeline_months.probability_percent,
        pipeline_months.delivery_months,
        pipeline_months.close_date,
        pipeline_months.first_delivery_month_start_date
    from pipeline_months
    left outer join fx_rates
        on
            pipeline_months.currency_code = fx_rates.from_currency_code
            and pipeline_months.month_start_date = fx_rates.month_start_date
    where {{ in_forecast_window('pipeline_months.month_start_date') }}

),

unioned as (

    select * from actual_lines
    union all
    select * from scheduled_lines
    union all
    select * from pipeline_lines

),

final as (

    select
        -- ids
        {{ as_of_date() }} as as_of_date,
        cast(record_type as varchar) as record_type,
        record_id,
        month_start_date,
        cast(billing_type as varchar) as billing_type,
        crm_opportunity_id,

        -- strings
        legal_entity_code,
        practice,
        currency_code,
        cast({{ reporting_currency() }} as varchar) as reporting_currency_code,

        -- numerics
        cast(hours as decimal(18, 2)) as hours,
        cast(revenue as decimal(18, 2)) as revenue,
        cast(fx_average_rate as decimal(18, 8)) as fx_average_rate,
        cast(revenue_reporting as decimal(18, 2)) as revenue_reporting,
        cast(opportunity_amount as decimal(18, 2)) as opportunity_amount,
        cast(probability_percent as decimal(9, 2)) as probability_percent,
        cast(delivery_months as integer) as delivery_months,

        -- booleans
        month_start_date >= {{ as_of_month_start() }} as is_forecast,

        -- dates
        close_date,
        first_delivery_month_start_date

    from unioned
    -- fct_revenue_forecast has a row only for a known legal entity and practice.
    where legal_entity_code is not null and practice is not null

)

select * from final
