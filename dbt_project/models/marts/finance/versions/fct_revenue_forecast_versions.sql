-- Every revenue forecast the pipeline made, one version per as-of date: per legal entity,
-- practice, month and billing type, in the reporting currency, the figure
-- fct_revenue_forecast showed as of that date (actual revenue before the as-of month,
-- forecast from it on; the weighted pipeline is billing type `pipeline`). Every billing
-- type of every month of the version's window has a row (0 when nothing is expected), so
-- a forecast of nothing is compared too. Summed from fct_revenue_forecast_version_lines;
-- fct_revenue_forecast is the as-of date's version pivoted by billing type.
-- Incremental, one version per as-of date: a run deletes its as-of date's rows, then
-- appends them again (macros/forecast_versions.sql; the folder's config in
-- dbt_project.yml); full_refresh false keeps the history through the nightly
-- --full-refresh.

with

version_lines as (

    select * from {{ ref('fct_revenue_forecast_version_lines') }}

),

months as (

    select * from {{ ref('int_calendar_months') }}

),

this_version_lines as (

    select * from version_lines
    where as_of_date = {{ as_of_date() }}

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

billing_types as (

    select
        billing_type_values.billing_type,
        billing_type_values.is_forecast_only
    from (
        values
        ('time_and_materials', false),
        ('fixed_fee', false),
        ('milestone', false),
        ('retainer', false),
        ('pipeline', true)
    ) as billing_type_values (billing_type, is_forecast_only)

),

entity_practices as (

    select distinct
        legal_entity_code,
        practice
    from this_version_lines

),

spine as (

    select
        entity_practices.legal_entity_code,
        entity_practices.practice,
        report_months.month_start_date,
        report_months.is_forecast,
        billing_types.billing_type
    from entity_practices
    cross join report_months
    inner join billing_types
        on report_months.is_forecast or not billing_types.is_forecast_only

),

line_totals as (

    select
        legal_entity_code,
        practice,
        month_start_date,
        billing_type,
        {{ strict_sum('revenue_reporting') }} as revenue_reporting
    from this_version_lines
    group by legal_entity_code, practice, month_start_date, billing_type

),

final as (

    select
        -- ids
        {{ as_of_date() }} as as_of_date,
        spine.legal_entity_code,
        spine.practice,
        spine.month_start_date,
        cast(spine.billing_type as varchar) as billing_type,

        -- strings
        cast({{ reporting_currency() }} as varchar) as reporting_currency_code,

        -- numerics
        cast(
            case
                when line_totals.legal_entity_code is null then 0
                else line_totals.revenue_reporting
            end as decimal(18, 2)
        ) as revenue,

        -- booleans
        spine.is_forecast

    from spine
    left outer join line_totals
        on
            spine.legal_entity_code = line_totals.legal_entity_code
            and spine.practice = line_totals.practice
            and spine.month_start_date = line_totals.month_start_date
            and spine.billing_type = line_totals.billing_type

)

select * from final
