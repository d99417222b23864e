-- Time entries and scheduled hours the finance marts could not value, one row per
-- record and reason, in the shape of fct_valuation_exceptions (which lists them with the
-- other exceptions). Time entries count only when they would otherwise have been
-- actuals: approved and dated on or before the as-of date. A day can have several
-- reasons (a duplicate timecard day with impossible hours is listed twice). Approved
-- time dated after the as-of date (approved before it was worked) is listed once, as
-- approved_future_time: it is in no actual figure.
with

time_entries as (

    select * from {{ ref('int_time_entries_unpivoted') }}

),

-- Not materialized: read once, but the cost-rate check's correlated subquery would
-- otherwise make DuckDB keep a copy of every valued entry before filtering it.
valued_time_entries as not materialized (

    select * from {{ ref('int_time_entries_valued') }}

),

worker_cost_rates as (

    select * from {{ ref('int_worker_cost_rates') }}

),

projects as (

    select * from {{ ref('int_projects_joined') }}

),

scheduled_hours as (

    select * from {{ ref('int_scheduled_hours_spread') }}

),

approved_time_entries as (

    -- Only the approved entries a branch below lists. Four branches read this, so the
    -- warehouse computes it once and keeps it (DuckDB and PostgreSQL materialize a CTE
    -- read more than once): it holds those few rows, not every approved entry.
    select
        time_entries.*,
        projects.currency_code
    from time_entries
    left outer join projects
        on time_entries.project_id = projects.project_id
    where
        time_entries.is_approved
        and (
            time_entries.has_unknown_project
            or time_entries.has_invalid_hours
            or time_entries.is_duplicate
            or time_entries.entry_date > {{ as_of_date() }}
        )

),

time_entry_defects as (

    select
        'unknown_project' as reason_code,
        'Approved time on project ' || project_id || ', which is not a PSA project'
            as reason_text,
        *
    from approved_time_entries
    where has_unknown_project and entry_date <= {{ as_of_date() }}

    union all

    select
        'invalid_hours' as reason_code,
        'Approved time of ' || hours || ' hours on one day (allowed 0 to 24)'
            as reason_text,
        *
    from approved_time_entries
    where has_invalid_hours and entry_date <= {{ as_of_date() }}

    union all

    select
        'duplicate_timecard' as reason_code,
        'Timecard repeats an earlier timecard of the same resource, project and week'
            as reason_text,
        *
    from approved_time_entries
    where is_duplicate and entry_date <= {{ as_of_date() }}

    union all

    select
        'approved_future_time' as reason_code,
        'Approved time dated ' || {{ format_date('entry_date', '%Y-%m-%d') }}
        || ', after the as-of date ' || {{ format_date(as_of_date(), '%Y-%m-%d') }}
        || ': not counted as actual' as reason_text,
        *
    from approved_time_entries
    where entry_date > {{ as_of_date() }}

),

time_entry_exceptions as (

    select
        {{ valuation_exception(
            affected_model="'fct_project_margin'",
            record_type="'time_entry'",
            record_id='time_entry_id',
            source_system="'psa'",
            source_object="'pse__Timecard_Header__c'",
            source_id='timecard_id',
            hours='hours',
            exception_date='entry_date',
        ) }}
    from time_entry_defects

),

valued_time_entries_flagged as (

    select
        valued_time_entries.*,
        not exists (
            select 1
            from worker_cost_rates
            where
                worker_cost_rates.worker_id = valued_time_entries.worker_id
                and {{ valid_on('worker_cost_rates', 'valued_time_entries.entry_date') }}
        ) as is_missing_cost_rate
    from valued_time_entries

),

unvalued_time_entries as (

    -- Only the entries missing a rate, for the same reason as approved_time_entries.
    select * from valued_time_entries_flagged
    where is_missing_bill_rate or is_missing_standard_rate or is_missing_cost_rate

),

valued_time_entry_gaps as (

    select
        'missing_bill_rate' as reason_code,
        'Billable time-and-materials time without a contract bill rate on its assignment'
            as reason_text,
        'psa' as source_system,
        'pse__Assignment__c' as source_object,
        coalesce(assignment_id, timecard_id) as exception_source_id,
        *
    from unvalued_time_entries
    where is_missing_bill_rate

    union all

    select
        'missing_standard_rate' as reason_code,
        'No rate-card line for role ' || coalesce(role_code, '(none)') || ' in '
        || coalesce(resource_legal_entity_code, '(no legal entity)') || ' on the day'
            as reason_text,
        'hris' as source_system,
        'Rate_Card' as source_object,
        coalesce(role_code, resource_id) as exception_source_id,
        *
    from unvalued_time_entries
    where is_missing_standard_rate

    union all

    select
        'missing_cost_rate' as reason_code,
        'No loaded cost rate of worker ' || coalesce(worker_id, '(none)')
        || ' valid on the day' as reason_text,
        'hris' as source_system,
        'Worker_Cost_Rates' as source_object,
        coalesce(worker_id, resource_id) as exception_source_id,
        *
    from unvalued_time_entries
    where is_missing_cost_rate

),

rate_exceptions as (

    select
        {{ valuation_exception(
            affected_model="'fct_project_margin'",
            record_type="'time_entry'",
            record_id='time_entry_id',
            source_id='exception_source_id',
            hours='hours',
            exception_date='entry_date',
        ) }}
    from valued_time_entry_gaps

    union all

    select
        {{ valuation_exception(
            reason_code="'missing_bill_rate'",
            reason_text="'Scheduled billable hours of a time-and-materials assignment"
            ~ " without a bill rate'",
            affected_model="'fct_revenue_forecast'",
            record_type="'assignment_month'",
            record_id="scheduled_hours.assignment_id || '|' || "
            ~ format_date("date_trunc('month', scheduled_hours.scheduled_date)", '%Y-%m'),
            source_system="'psa'",
            source_object="'pse__Assignment__c'",
            source_id='scheduled_hours.assignment_id',
            project_id='scheduled_hours.project_id',
            currency_code='projects.currency_code',
            hours='sum(scheduled_hours.scheduled_hours)',
            exception_date="cast(date_trunc('month', scheduled_hours.scheduled_date) as date)",
        ) }}
    from scheduled_hours
    inner join projects
        on scheduled_hours.project_id = projects.project_id
    where
        projects.billing_type = 'time_and_materials'
        and scheduled_hours.is_billable
        and scheduled_hours.bill_rate is null
        and scheduled_hours.scheduled_hours <> 0
        and {{ in_forecast_window('scheduled_hours.scheduled_date') }}
    group by
        scheduled_hours.assignment_id,
        scheduled_hours.project_id,
        projects.currency_code,
        date_trunc('month', scheduled_hours.scheduled_date)

),

unioned as (

    select * from time_entry_exceptions
    union all
    select * from rate_exceptions

)

select * from unioned
