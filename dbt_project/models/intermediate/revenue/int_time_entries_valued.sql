-- Actual time (approved, valid hours, known project, not a duplicate, dated on or before
-- the as-of date) priced at the assignment's contract bill rate and at the standard
-- rate-card bill rate of the resource's role and legal entity on the day. Products are
-- kept exact (DECIMAL, 4 decimals); rounding to cents happens per project and month
-- downstream. A rate that cannot be found leaves its value empty and the row is listed in
-- fct_valuation_exceptions; cost rates are applied in int_project_months_labor_costed so
-- that no per-person cost leaves the restricted schema.
-- Incremental (intraday): only the timecards whose entries, source row or assignment changed
-- are priced again; see macros/incremental_time_entries.sql. The nightly run rebuilds it whole.
-- meta incremental_inputs: what its increments follow (the as-of date too). After any other
-- change (a rate card, a project, an FX rate) the pipeline's dbt step names it in
-- DBT_REBUILD_WHOLE: it is built whole.
{{
    config(
        materialized='incremental',
        meta={
            'incremental_inputs': ['raw_psa.timecard_header', 'raw_psa.assignment', 'as_of_date'],
        },
        full_refresh=rebuilt_whole('int_time_entries_valued'),
        incremental_strategy='append',
        on_schema_change='append_new_columns',
        pre_hook="{{ valued_entries_prepare_increment() }}",
    )
}}
-- depends_on: {{ ref('stg_psa__timecard_headers') }} (read by the incremental pre-hook)

with

time_entries as (

    select * from {{ ref('int_time_entries_unpivoted') }}

),

projects as (

    select * from {{ ref('int_projects_joined') }}

),

resources as (

    select * from {{ ref('int_resources_joined') }}

),

rate_cards as (

    select * from {{ ref('int_rate_card_bill_rates') }}

),

assignments as (

    -- The contract bill rate lives on the PSA assignment; the canonical layer has no
    -- assignment dimension, so it is read from staging (the system of record).
    select * from {{ ref('stg_psa__assignments') }}

),

actual_time_entries as (

    select * from time_entries
    where
        is_approved
        and not has_invalid_hours
        and not has_unknown_project
        and not is_duplicate
        and entry_date <= {{ as_of_date() }}
        {{ in_touched_timecards('int_time_entries_valued__touched') }}

),

entries_joined as (

    select
        actual_time_entries.time_entry_id,
        actual_time_entries.timecard_id,
        actual_time_entries.project_id,
        actual_time_entries.resource_id,
        actual_time_entries.worker_id,
        actual_time_entries.assignment_id,
        projects.billing_type,
        projects.currency_code,
        resources.role_code,
        resources.legal_entity_code as resource_legal_entity_code,
        actual_time_entries.hours,
        actual_time_entries.is_billable,
        actual_time_entries.entry_date,
        assignments.bill_rate
    from actual_time_entries
    inner join projects
        on actual_time_entries.project_id = projects.project_id
    left outer join resources
        on actual_time_entries.resource_id = resources.resource_id
    left outer join assignments
        on
            actual_time_entries.assignment_id = assignments.assignment_id
            and not assignments.is_deleted

),

entries_priced as (

    select
        entries_joined.*,
        rate_cards.standard_bill_rate,
        rate_cards.currency_code as standard_rate_currency_code
    from entries_joined
    left outer join rate_cards
        on
            entries_joined.role_code = rate_cards.role_code
            and entries_joined.resource_legal_entity_code = rate_cards.legal_entity_code
            and {{ valid_on('rate_cards', 'entries_joined.entry_date') }}

),

final as (

    select
        -- ids
        time_entry_id,
        timecard_id,
        project_id,
        resource_id,
        worker_id,
        assignment_id,

        -- strings
        billing_type,
        currency_code,
        role_code,
        resource_legal_entity_code,
        standard_rate_currency_code,

        -- numerics
        hours,
        cast(case when is_billable then hours else 0 end as decimal(9, 2)) as billable_hours,
        bill_rate,
        standard_bill_rate,
        cast(case when is_billable then hours * bill_rate else 0 end as decimal(18, 4))
            as billable_value,
        cast(
            case when is_billable then hours * standard_bill_rate else 0 end
            as decimal(18, 4)
        ) as standard_value_in_rate_currency,

        -- booleans
        is_billable,
        is_billable and billing_type = 'time_and_materials' and bill_rate is null
            as is_missing_bill_rate,
        is_billable and standard_bill_rate is null as is_missing_standard_rate,

        -- dates
        entry_date,
        cast(date_trunc('month', entry_date) as date) as month_start_date,
        {{ as_of_date() }} as priced_as_of_date,

        -- timestamps
        {{ run_started_at_timestamp() }} as refreshed_at

    from entries_priced

)

select * from final
