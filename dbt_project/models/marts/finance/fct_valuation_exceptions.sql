-- Every row the finance marts could not value, one row per record and reason, so nothing
-- is left out of a total silently: the time entries and schedules of
-- int_time_entries_unvalued, amounts without an FX rate, opportunities, projects and
-- milestones that cannot be valued. A record can carry several reasons.
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

fx_exceptions as (

    select
        'missing_fx_rate' as reason_code,
        'No average ' || coalesce(currency_code, '(no currency)') || ' to '
        || reporting_currency_code || ' rate for ' || {{ format_date('month_start_date', '%Y-%m') }}
            as reason_text,
        'fct_project_margin' as affected_model,
        'project_month' as record_type,
        project_id || '|' || {{ format_date('month_start_date', '%Y-%m') }} as record_id,
        'erp' as source_system,
        'consolidatedexchangerate' as source_object,
        cast(null as varchar) as source_id,
        project_id,
        currency_code,
        hours_worked as hours,
        revenue as amount,
        month_start_date as exception_date
    from project_margins
    where
        fx_average_rate is null
        and (revenue <> 0 or labor_cost <> 0 or standard_value <> 0)

    union all

    select
        'missing_fx_rate' as reason_code,
        'Labor cost in a currency other than ' || coalesce(currency_code, '(none)')
        || ' could not be converted: no average rate for '
        || {{ format_date('month_start_date', '%Y-%m') }} as reason_text,
        'fct_project_margin' as affected_model,
        'project_month_labor_cost' as record_type,
        project_id || '|' || {{ format_date('month_start_date', '%Y-%m') }} as record_id,
        'erp' as source_system,
        'consolidatedexchangerate' as source_object,
        cast(null as varchar) as source_id,
        project_id,
        currency_code,
        hours_worked as hours,
        cast(null as decimal(18, 2)) as amount,
        month_start_date as exception_date
    from project_margins
    where labor_cost is null

    union all

    select
        'missing_fx_rate' as reason_code,
        'Standard value from a rate card in a currency other than '
        || coalesce(currency_code, '(none)')
        || ' could not be converted: no average rate for '
        || {{ format_date('month_start_date', '%Y-%m') }} as reason_text,
        'fct_project_margin' as affected_model,
        'project_month_standard_value' as record_type,
        project_id || '|' || {{ format_date('month_start_date', '%Y-%m') }} as record_id,
        'erp' as source_system,
        'consolidatedexchangerate' as source_object,
        cast(null as varchar) as source_id,
        project_id,
        currency_code,
        billable_hours as hours,
        cast(null as decimal(18, 2)) as amount,
        month_start_date as exception_date
    from project_margins
    where standard_value is null

    union all

    select
        'missing_fx_rate' as reason_code,
        'No period-end ' || coalesce(currency_code, '(no currency)') || ' to '
        || reporting_currency_code || ' rate for ' || {{ format_date('month_start_date', '%Y-%m') }}
            as reason_text,
        'fct_backlog' as affected_model,
        'project_month' as record_type,
        project_id || '|' || {{ format_date('month_start_date', '%Y-%m') }} as record_id,
        'erp' as source_system,
        'consolidatedexchangerate' as source_object,
        cast(null as varchar) as source_id,
        project_id,
        currency_code,
        cast(null as decimal(18, 2)) as hours,
        backlog_amount as amount,
        month_end_date as exception_date
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
        'missing_fx_rate' as reason_code,
        'No average '
        || coalesce(scheduled_revenue_months.currency_code, '(no currency)') || ' to '
        || {{ reporting_currency() }} || ' rate for '
        || {{ format_date('scheduled_revenue_months.month_start_date', '%Y-%m') }} as reason_text,
        'fct_revenue_forecast' as affected_model,
        'project_month' as record_type,
        scheduled_revenue_months.project_id || '|'
        || {{ format_date('scheduled_revenue_months.month_start_date', '%Y-%m') }} as record_id,
        'erp' as source_system,
        'consolidatedexchangerate' as source_object,
        cast(null as varchar) as source_id,
        scheduled_revenue_months.project_id,
        scheduled_revenue_months.currency_code,
        scheduled_revenue_months.scheduled_hours as hours,
        scheduled_revenue_months.scheduled_revenue as amount,
        scheduled_revenue_months.month_start_date as exception_date
    from scheduled_revenue_months
    left outer join fx_rates
        on
            scheduled_revenue_months.currency_code = fx_rates.from_currency_code
            and scheduled_revenue_months.month_start_date = fx_rates.month_start_date
    where
        scheduled_revenue_months.scheduled_revenue <> 0
        and {{ rate_to_reporting(
            'fx_rates.average_rate', 'scheduled_revenue_months.currency_code'
        ) }} is null

    union all

    select
        'missing_fx_rate' as reason_code,
        'No average ' || coalesce(pipeline_months.currency_code, '(no currency)') || ' to '
        || {{ reporting_currency() }} || ' rate for '
        || {{ format_date('pipeline_months.month_start_date', '%Y-%m') }} as reason_text,
        'fct_revenue_forecast' as affected_model,
        'opportunity_month' as record_type,
        pipeline_months.crm_opportunity_id || '|'
        || {{ format_date('pipeline_months.month_start_date', '%Y-%m') }} as record_id,
        'erp' as source_system,
        'consolidatedexchangerate' as source_object,
        cast(null as varchar) as source_id,
        cast(null as varchar) as project_id,
        pipeline_months.currency_code,
        cast(null as decimal(18, 2)) as hours,
        pipeline_months.weighted_revenue as amount,
        pipeline_months.month_start_date as exception_date
    from pipeline_months
    left outer join fx_rates
        on
            pipeline_months.currency_code = fx_rates.from_currency_code
            and pipeline_months.month_start_date = fx_rates.month_start_date
    where
        pipeline_months.month_start_date between {{ as_of_month_start() }}
        and {{ last_forecast_month_start() }}
        and pipeline_months.weighted_revenue <> 0
        and {{ rate_to_reporting('fx_rates.average_rate', 'pipeline_months.currency_code') }}
        is null

),

open_opportunities as (

    select * from opportunities
    where not is_closed and not is_deleted

),

opportunity_exceptions as (

    select
        'invalid_probability' as reason_code,
        'Open opportunity with probability '
        || coalesce(cast(probability_percent as varchar), '(empty)')
        || ' % (allowed 0 to 100)' as reason_text,
        'fct_revenue_forecast' as affected_model,
        'opportunity' as record_type,
        crm_opportunity_id as record_id,
        'crm' as source_system,
        'Opportunity' as source_object,
        crm_opportunity_id as source_id,
        cast(null as varchar) as project_id,
        currency_code,
        cast(null as decimal(18, 2)) as hours,
        amount,
        close_date as exception_date
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
        'fct_revenue_forecast' as affected_model,
        'opportunity' as record_type,
        crm_opportunity_id as record_id,
        'crm' as source_system,
        'Opportunity' as source_object,
        crm_opportunity_id as source_id,
        cast(null as varchar) as project_id,
        currency_code,
        cast(null as decimal(18, 2)) as hours,
        amount,
        close_date as exception_date
    from open_opportunities
    where
        not has_invalid_probability
        and (amount is null or close_date is null or coalesce(delivery_months, 0) < 1)

    union all

    select
        'missing_entity_or_practice' as reason_code,
        'Open opportunity without a legal entity or practice: no forecast row to add to'
            as reason_text,
        'fct_revenue_forecast' as affected_model,
        'opportunity' as record_type,
        crm_opportunity_id as record_id,
        'crm' as source_system,
        'Opportunity' as source_object,
        crm_opportunity_id as source_id,
        cast(null as varchar) as project_id,
        currency_code,
        cast(null as decimal(18, 2)) as hours,
        amount,
        close_date as exception_date
    from open_opportunities
    where legal_entity_code is null or practice is null

),

project_exceptions as (

    select
        'missing_entity_or_practice' as reason_code,
        'Client project without a legal entity or practice: no forecast row to add to'
            as reason_text,
        'fct_revenue_forecast' as affected_model,
        'project' as record_type,
        project_id as record_id,
        'psa' as source_system,
        'pse__Proj__c' as source_object,
        project_id as source_id,
        project_id,
        currency_code,
        cast(null as decimal(18, 2)) as hours,
        contract_amount as amount,
        start_date as exception_date
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
        'project' as record_type,
        project_id as record_id,
        'psa' as source_system,
        'pse__Proj__c' as source_object,
        project_id as source_id,
        project_id,
        currency_code,
        estimated_hours as hours,
        contract_amount as amount,
        start_date as exception_date
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
        'project' as record_type,
        project_id as record_id,
        'psa' as source_system,
        'pse__Proj__c' as source_object,
        project_id as source_id,
        project_id,
        currency_code,
        cast(null as decimal(18, 2)) as hours,
        contract_amount as amount,
        start_date as exception_date
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
        'project' as record_type,
        project_id as record_id,
        'psa' as source_system,
        'pse__Proj__c' as source_object,
        project_id as source_id,
        project_id,
        currency_code,
        cast(null as decimal(18, 2)) as hours,
        cast(null as decimal(18, 2)) as amount,
        start_date as exception_date
    from projects
    where billing_type in ('time_and_materials', 'milestone') and contract_amount is null

    union all

    select
        case
            when milestones.milestone_amount is null then 'missing_milestone_amount'
            else 'missing_milestone_date'
        end as reason_code,
        case
            when milestones.milestone_amount is null then 'Milestone without an amount'
            else 'Completed milestone without an actual date: never recognized'
        end as reason_text,
        'fct_project_margin' as affected_model,
        'milestone' as record_type,
        milestones.milestone_id as record_id,
        'psa' as source_system,
        'pse__Milestone__c' as source_object,
        milestones.milestone_id as source_id,
        milestones.project_id,
        milestones.currency_code,
        cast(null as decimal(18, 2)) as hours,
        milestones.milestone_amount as amount,
        coalesce(milestones.actual_date, milestones.target_date) as exception_date
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

    select
        reason_code,
        reason_text,
        affected_model,
        record_type,
        record_id,
        source_system,
        source_object,
        source_id,
        project_id,
        currency_code,
        hours,
        amount,
        exception_date
    from time_entries_unvalued
    union all
    select * from fx_exceptions
    union all
    select * from opportunity_exceptions
    union all
    select * from project_exceptions

),

final as (

    select
        -- ids
        md5(
            concat_ws('|', reason_code, affected_model, record_type, record_id)
        ) as valuation_exception_id,
        record_id,
        source_id,
        project_id,

        -- strings
        reason_code,
        reason_text,
        affected_model,
        record_type,
        source_system,
        source_object,
        currency_code,

        -- numerics
        cast(hours as decimal(18, 2)) as hours,
        cast(amount as decimal(18, 2)) as amount,

        -- dates
        exception_date,
        cast(date_trunc('month', exception_date) as date) as month_start_date

    from unioned

)

select * from final
