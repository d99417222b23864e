-- Every row the finance marts could not value, one row per record and reason, so nothing
-- is left out of a total silently: the time entries and schedules of
-- int_time_entries_unvalued, amounts without an FX rate, opportunities, projects and
-- milestones that cannot be valued. A record can carry several reasons. Reasons that share
-- their record are listed together (one select per reason), and the valuation_exception
-- macro writes each group's columns in the union's order.
{%- set month_label = format_date('month_start_date', '%Y-%m') %}
with

time_entries_unvalued as (

    select * from {{ ref('int_time_entries_unvalued') }}

),

projects as (

    select * from {{ ref('dim_project') }}

),

milestones as (

    select * from {{ ref('fct_milestones') }}

),

opportunities as (

    select * from {{ ref('fct_opportunities') }}

),

project_margins as (

    select * from {{ ref('fct_project_margin') }}

),

backlogs as (

    select * from {{ ref('fct_backlog') }}

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

margin_fx_gaps as (

    select
        'project_month' as record_type,
        'No average ' || coalesce(currency_code, '(no currency)') || ' to '
        || reporting_currency_code || ' rate for ' || {{ month_label }} as reason_text,
        hours_worked as exception_hours,
        revenue as exception_amount,
        *
    from project_margins
    where
        fx_average_rate is null
        and (revenue <> 0 or labor_cost <> 0 or standard_value <> 0)

    union all

    select
        'project_month_labor_cost' as record_type,
        'Labor cost in a currency other than ' || coalesce(currency_code, '(none)')
        || ' could not be converted: no average rate for ' || {{ month_label }} as reason_text,
        hours_worked as exception_hours,
        cast(null as decimal(18, 2)) as exception_amount,
        *
    from project_margins
    where labor_cost is null

    union all

    select
        'project_month_standard_value' as record_type,
        'Standard value from a rate card in a currency other than '
        || coalesce(currency_code, '(none)')
        || ' could not be converted: no average rate for ' || {{ month_label }} as reason_text,
        billable_hours as exception_hours,
        cast(null as decimal(18, 2)) as exception_amount,
        *
    from project_margins
    where standard_value is null

),

forecast_amounts as (

    -- What fct_revenue_forecast converts at the month's average rate: scheduled revenue per
    -- project and forecast month, weighted pipeline per opportunity and forecast month.
    select
        'project_month' as record_type,
        project_id as record_key,
        project_id,
        currency_code,
        month_start_date,
        scheduled_hours as exception_hours,
        scheduled_revenue as exception_amount
    from scheduled_revenue_months

    union all

    select
        'opportunity_month' as record_type,
        crm_opportunity_id as record_key,
        cast(null as varchar) as project_id,
        currency_code,
        month_start_date,
        cast(null as decimal(18, 2)) as exception_hours,
        weighted_revenue as exception_amount
    from pipeline_months
    where {{ in_forecast_window('month_start_date') }}

),

forecast_fx_gaps as (

    select forecast_amounts.*
    from forecast_amounts
    left outer join fx_rates
        on
            forecast_amounts.currency_code = fx_rates.from_currency_code
            and forecast_amounts.month_start_date = fx_rates.month_start_date
    where
        forecast_amounts.exception_amount <> 0
        and {{ rate_to_reporting('fx_rates.average_rate', 'forecast_amounts.currency_code') }}
        is null

),

fx_exceptions as (

    select
        {{ valuation_exception(
            reason_code="'missing_fx_rate'",
            affected_model="'fct_project_margin'",
            record_id="project_id || '|' || " ~ month_label,
            source_system="'erp'",
            source_object="'consolidatedexchangerate'",
            hours='exception_hours',
            amount='exception_amount',
            exception_date='month_start_date',
        ) }}
    from margin_fx_gaps

    union all

    select
        {{ valuation_exception(
            reason_code="'missing_fx_rate'",
            reason_text="'No period-end ' || coalesce(currency_code, '(no currency)') || ' to '"
            ~ " || reporting_currency_code || ' rate for ' || " ~ month_label,
            affected_model="'fct_backlog'",
            record_type="'project_month'",
            record_id="project_id || '|' || " ~ month_label,
            source_system="'erp'",
            source_object="'consolidatedexchangerate'",
            amount='backlog_amount',
            exception_date='month_end_date',
        ) }}
    from backlogs
    where
        fx_period_end_rate is null
        and (
            coalesce(contract_value, 0) <> 0
            or coalesce(earned_to_date, 0) <> 0
            or invoiced_to_date <> 0
        )

    union all

    select
        {{ valuation_exception(
            reason_code="'missing_fx_rate'",
            reason_text="'No average ' || coalesce(currency_code, '(no currency)') || ' to ' || "
            ~ reporting_currency() ~ " || ' rate for ' || " ~ month_label,
            affected_model="'fct_revenue_forecast'",
            record_id="record_key || '|' || " ~ month_label,
            source_system="'erp'",
            source_object="'consolidatedexchangerate'",
            hours='exception_hours',
            amount='exception_amount',
            exception_date='month_start_date',
        ) }}
    from forecast_fx_gaps

),

open_opportunities as (

    select * from opportunities
    where not is_closed and not is_deleted

),

opportunity_gaps as (

    select
        'invalid_probability' as reason_code,
        'Open opportunity with probability '
        || coalesce(cast(probability_percent as varchar), '(empty)')
        || ' % (allowed 0 to 100)' as reason_text,
        *
    from open_opportunities
    where has_invalid_probability

    union all

    select
        'incomplete_opportunity' as reason_code,
        'Open opportunity without '
        || case
            when amount is null then 'an amount'
            when close_date is null then 'a close date'
            else 'a delivery period of at least one month'
        end as reason_text,
        *
    from open_opportunities
    where
        not has_invalid_probability
        and (amount is null or close_date is null or coalesce(delivery_months, 0) < 1)

    union all

    select
        'missing_entity_or_practice' as reason_code,
        'Open opportunity without a legal entity or practice: no forecast row to add to'
            as reason_text,
        *
    from open_opportunities
    where legal_entity_code is null or practice is null

),

opportunity_exceptions as (

    select
        {{ valuation_exception(
            affected_model="'fct_revenue_forecast'",
            record_type="'opportunity'",
            record_id='crm_opportunity_id',
            source_system="'crm'",
            source_object="'Opportunity'",
            source_id='crm_opportunity_id',
            project_id='cast(null as varchar)',
            amount='amount',
            exception_date='close_date',
        ) }}
    from opportunity_gaps

),

project_gaps as (

    select
        'missing_entity_or_practice' as reason_code,
        'Client project without a legal entity or practice: no forecast row to add to'
            as reason_text,
        'fct_revenue_forecast' as affected_model,
        cast(null as decimal(18, 2)) as exception_hours,
        contract_amount as exception_amount,
        *
    from projects
    where billing_type <> 'internal' and (legal_entity_code is null or practice is null)

    union all

    select
        case
            when contract_amount is null then 'missing_contract_value'
            else 'missing_estimated_hours'
        end as reason_code,
        case
            when contract_amount is null
                then 'Fixed-fee project without a contract value'
            else 'Fixed-fee project without positive estimated hours: percent complete unknown'
        end as reason_text,
        'fct_project_margin' as affected_model,
        estimated_hours as exception_hours,
        contract_amount as exception_amount,
        *
    from projects
    where
        billing_type = 'fixed_fee'
        and (contract_amount is null or not coalesce(estimated_hours > 0, false))

    union all

    select
        'missing_contract_terms' as reason_code,
        'Retainer without a contract value, start date or end date on or after it'
            as reason_text,
        'fct_project_margin' as affected_model,
        cast(null as decimal(18, 2)) as exception_hours,
        contract_amount as exception_amount,
        *
    from projects
    where
        billing_type = 'retainer'
        and (
            contract_amount is null
            or start_date is null
            or not coalesce(end_date >= start_date, false)
        )

    union all

    select
        'missing_contract_value' as reason_code,
        'Client project without a contract value: backlog unknown' as reason_text,
        'fct_backlog' as affected_model,
        cast(null as decimal(18, 2)) as exception_hours,
        cast(null as decimal(18, 2)) as exception_amount,
        *
    from projects
    where billing_type in ('time_and_materials', 'milestone') and contract_amount is null

),

project_exceptions as (

    select
        {{ valuation_exception(
            record_type="'project'",
            record_id='project_id',
            source_system="'psa'",
            source_object="'pse__Proj__c'",
            source_id='project_id',
            hours='exception_hours',
            amount='exception_amount',
            exception_date='start_date',
        ) }}
    from project_gaps

    union all

    select
        {{ valuation_exception(
            reason_code="case when milestones.milestone_amount is null"
            ~ " then 'missing_milestone_amount' else 'missing_milestone_date' end",
            reason_text="case when milestones.milestone_amount is null"
            ~ " then 'Milestone without an amount'"
            ~ " else 'Completed milestone without an actual date: never recognized' end",
            affected_model="'fct_project_margin'",
            record_type="'milestone'",
            record_id='milestones.milestone_id',
            source_system="'psa'",
            source_object="'pse__Milestone__c'",
            source_id='milestones.milestone_id',
            project_id='milestones.project_id',
            currency_code='milestones.currency_code',
            amount='milestones.milestone_amount',
            exception_date='coalesce(milestones.actual_date, milestones.target_date)',
        ) }}
    from milestones
    inner join projects
        on milestones.project_id = projects.project_id
    where
        projects.billing_type = 'milestone'
        and (
            milestones.milestone_amount is null
            or (milestones.is_complete and milestones.actual_date is null)
        )

),

unioned as (

    select * from time_entries_unvalued
    union all
    select * from fx_exceptions
    union all
    select * from opportunity_exceptions
    union all
    select * from project_exceptions

),

final as (

    -- The union's columns (valuation_exception() writes and types them), plus the key and
    -- the month; the mart's contract puts them in order.
    select
        md5(
            concat_ws('|', reason_code, affected_model, record_type, record_id)
        ) as valuation_exception_id,
        *,
        cast(date_trunc('month', exception_date) as date) as month_start_date
    from unioned

)

select * from final
