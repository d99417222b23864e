-- PSA against ERP per project and month of service, in the project currency: what the PSA
-- says is billable (approved billable time × assignment bill rate on time-and-materials
-- projects, completed milestones, the retainer's monthly fee) against what NetSuite invoiced
-- for that month (invoice lines by service month, dated up to the as-of date). Time is
-- counted as the PSA holds it, duplicates and impossible hours included, so a defect in the
-- PSA shows as a variance here (the finance marts leave those rows out instead). Fixed-fee
-- projects are not reconciled: their instalments follow a billing schedule the PSA export
-- does not carry (their unbilled position is fct_backlog.wip_amount); internal projects
-- are never invoiced.
with

time_entries as (

    select * from {{ ref('fct_time_entries') }}

),

assignments as (

    -- The bill rate lives on the PSA assignment (as in int_time_entries_valued).
    select * from {{ ref('stg_psa__assignments') }}

),

projects as (

    select * from {{ ref('dim_project') }}

),

milestones as (

    select * from {{ ref('fct_milestones') }}

),

retainer_fees as (

    select * from {{ ref('int_retainer_fees_spread') }}

),

invoice_lines as (

    select * from {{ ref('fct_invoice_lines') }}

),

fx_rates as (

    select * from {{ ref('dim_fx_rate') }}

),

approved_time as (

    select
        time_entries.project_id,
        cast(date_trunc('month', time_entries.entry_date) as date) as month_start_date,
        time_entries.hours,
        time_entries.is_billable,
        time_entries.is_duplicate or time_entries.has_invalid_hours as is_defective,
        -- Value in project currency: billable time-and-materials time only; unknown (null)
        -- for a billable hour without a bill rate or on a project the PSA does not know.
        case
            when not time_entries.is_billable then 0
            when projects.project_id is null then null
            when projects.billing_type <> 'time_and_materials' then 0
            else time_entries.hours * assignments.bill_rate
        end as billable_value
    from time_entries
    left outer join projects
        on time_entries.project_id = projects.project_id
    left outer join assignments
        on
            time_entries.assignment_id = assignments.assignment_id
            and not assignments.is_deleted
    where
        time_entries.is_approved
        and time_entries.entry_date <= {{ as_of_date() }}

),

psa_time_months as (

    select
        project_id,
        month_start_date,
        sum(hours) as approved_hours,
        sum(case when is_billable then hours else 0 end) as billable_hours,
        sum(case when is_defective then hours else 0 end) as defect_hours,
        {{ round_to_cents(strict_sum('billable_value')) }} as time_value
    from approved_time
    group by project_id, month_start_date

),

invoiced_milestones as (

    select distinct milestone_id
    from invoice_lines
    where
        milestone_id is not null
        and transaction_type = 'CustInvc'
        and transaction_date <= {{ as_of_date() }}

),

completed_milestones as (

    select
        milestones.milestone_id,
        milestones.project_id,
        milestones.milestone_amount,
        cast(date_trunc('month', milestones.actual_date) as date) as month_start_date,
        invoiced_milestones.milestone_id is not null as is_invoiced
    from milestones
    left outer join invoiced_milestones
        on milestones.milestone_id = invoiced_milestones.milestone_id
    where
        milestones.is_complete
        and milestones.actual_date <= {{ as_of_date() }}

),

psa_milestone_months as (

    select
        project_id,
        month_start_date,
        count(*) as billing_event_count,
        count(*) filter (where is_invoiced) as billing_events_invoiced_count,
        {{ strict_sum('milestone_amount') }} as billing_event_amount
    from completed_milestones
    group by project_id, month_start_date

),

psa_retainer_months as (

    select
        project_id,
        month_start_date,
        retainer_amount
    from retainer_fees
    where month_start_date <= {{ as_of_month_start() }}

),

erp_lines as (

    select
        invoice_lines.project_id,
        -- The month the line bills for; the document month when NetSuite has no service date.
        cast(
            coalesce(
                invoice_lines.service_month_start_date,
                date_trunc('month', invoice_lines.transaction_date)
            ) as date
        ) as month_start_date,
        invoice_lines.transaction_id,
        invoice_lines.transaction_type,
        invoice_lines.milestone_id,
        invoice_lines.currency_code,
        invoice_lines.signed_amount
    from invoice_lines
    where invoice_lines.transaction_date <= {{ as_of_date() }}

),

erp_months as (

    select
        erp_lines.project_id,
        erp_lines.month_start_date,
        count(
            distinct case
                when erp_lines.transaction_type = 'CustInvc' then erp_lines.transaction_id
            end
        ) as invoice_count,
        coalesce(
            sum(erp_lines.signed_amount) filter (where erp_lines.transaction_type = 'CustInvc'),
            0
        ) as invoiced_amount,
        coalesce(
            sum(erp_lines.signed_amount) filter (
                where erp_lines.transaction_type = 'CustInvc' and erp_lines.milestone_id is not null
            ),
            0
        ) as milestone_invoiced_amount,
        coalesce(
            -sum(erp_lines.signed_amount) filter (where erp_lines.transaction_type = 'CustCred'),
            0
        ) as credited_amount,
        count(*) filter (where erp_lines.currency_code <> projects.currency_code) > 0
            as has_currency_mismatch
    from erp_lines
    left outer join projects
        on erp_lines.project_id = projects.project_id
    group by erp_lines.project_id, erp_lines.month_start_date

),

project_months as (

    select
        project_id,
        month_start_date
    from psa_time_months
    union
    select
        project_id,
        month_start_date
    from psa_milestone_months
    union
    select
        project_id,
        month_start_date
    from psa_retainer_months
    union
    select
        project_id,
        month_start_date
    from erp_months

),

months_joined as (

    select
        project_months.project_id,
        project_months.month_start_date,
        projects.legal_entity_code,
        projects.practice,
        projects.billing_type,
        projects.currency_code,
        projects.project_id is null as is_unknown_project,
        coalesce(psa_time_months.approved_hours, 0) as psa_approved_hours,
        coalesce(psa_time_months.billable_hours, 0) as psa_billable_hours,
        coalesce(psa_time_months.defect_hours, 0) as psa_defect_hours,
        case
            when psa_time_months.project_id is null then 0
            else psa_time_months.time_value
        end as psa_time_value,
        coalesce(psa_milestone_months.billing_event_count, 0) as psa_billing_event_count,
        coalesce(psa_milestone_months.billing_events_invoiced_count, 0)
            as psa_billing_events_invoiced_count,
        case
            when psa_milestone_months.project_id is null then 0
            else psa_milestone_months.billing_event_amount
        end as psa_billing_event_amount,
        coalesce(psa_retainer_months.retainer_amount, 0) as psa_retainer_fee_amount,
        coalesce(erp_months.invoice_count, 0) as erp_invoice_count,
        coalesce(erp_months.invoiced_amount, 0) as erp_invoiced_amount,
        coalesce(erp_months.milestone_invoiced_amount, 0) as erp_billing_event_invoiced_amount,
        coalesce(erp_months.credited_amount, 0) as erp_credited_amount,
        coalesce(erp_months.has_currency_mismatch, false) as has_currency_mismatch,
        {{ rate_to_reporting('fx_rates.average_rate', 'projects.currency_code') }}
            as fx_average_rate
    from project_months
    left outer join projects
        on project_months.project_id = projects.project_id
    left outer join psa_time_months
        on
            project_months.project_id = psa_time_months.project_id
            and project_months.month_start_date = psa_time_months.month_start_date
    left outer join psa_milestone_months
        on
            project_months.project_id = psa_milestone_months.project_id
            and project_months.month_start_date = psa_milestone_months.month_start_date
    left outer join psa_retainer_months
        on
            project_months.project_id = psa_retainer_months.project_id
            and project_months.month_start_date = psa_retainer_months.month_start_date
    left outer join erp_months
        on
            project_months.project_id = erp_months.project_id
            and project_months.month_start_date = erp_months.month_start_date
    left outer join fx_rates
        on
            projects.currency_code = fx_rates.from_currency_code
            and project_months.month_start_date = fx_rates.month_start_date
    where
        -- ERP lines that name no project cannot be put against PSA work.
        project_months.project_id is not null
        and project_months.month_start_date <= {{ as_of_month_start() }}
        and (
            projects.project_id is null
            or projects.billing_type in ('time_and_materials', 'milestone', 'retainer')
        )

),

valued as (

    select
        *,
        psa_time_value + psa_billing_event_amount + psa_retainer_fee_amount as psa_billable_value,
        {{ dbt.last_day('month_start_date', 'month') }} as month_end_date
    from months_joined

),

compared as (

    select
        *,
        psa_billable_value - erp_invoiced_amount as variance_amount,
        month_end_date + {{ var('billing_due_days') | int }} as billing_due_date,
        {{ convert_to_cents('psa_billable_value', 'fx_average_rate') }}
            as psa_billable_value_reporting,
        {{ convert_to_cents('erp_invoiced_amount', 'fx_average_rate') }}
            as erp_invoiced_amount_reporting
    from valued

),

classified as (

    select
        *,
        -- First match wins; the tolerance absorbs rounding between hour-level and
        -- line-level sums (var reconciliation_tolerance_amount, project currency).
        case
            when is_unknown_project then 'unknown_project'
            when has_currency_mismatch then 'currency_mismatch'
            when psa_billable_value is null then 'unvalued_psa_work'
            when
                abs(variance_amount) <= {{ var('reconciliation_tolerance_amount') }}
                then 'matched'
            when variance_amount > 0 and billing_due_date >= {{ as_of_date() }}
                then 'billing_pending'
            when variance_amount > 0 and erp_invoiced_amount = 0 then 'not_invoiced'
            when variance_amount > 0 then 'under_invoiced'
            when psa_billable_value = 0 then 'invoice_without_psa_work'
            else 'over_invoiced'
        end as reconciliation_status
    from compared

),

final as (

    select
        {{ project_month_columns() }},
        cast(reconciliation_status as varchar) as reconciliation_status,

        -- numerics
        cast(psa_approved_hours as decimal(18, 2)) as psa_approved_hours,
        cast(psa_billable_hours as decimal(18, 2)) as psa_billable_hours,
        cast(psa_defect_hours as decimal(18, 2)) as psa_defect_hours,
        cast(psa_time_value as decimal(18, 2)) as psa_time_value,
        cast(psa_billing_event_count as integer) as psa_billing_event_count,
        cast(psa_billing_events_invoiced_count as integer) as psa_billing_events_invoiced_count,
        cast(psa_billing_event_amount as decimal(18, 2)) as psa_billing_event_amount,
        cast(psa_retainer_fee_amount as decimal(18, 2)) as psa_retainer_fee_amount,
        cast(psa_billable_value as decimal(18, 2)) as psa_billable_value,
        cast(erp_invoice_count as integer) as erp_invoice_count,
        cast(erp_invoiced_amount as decimal(18, 2)) as erp_invoiced_amount,
        cast(erp_billing_event_invoiced_amount as decimal(18, 2))
            as erp_billing_event_invoiced_amount,
        cast(erp_credited_amount as decimal(18, 2)) as erp_credited_amount,
        cast(variance_amount as decimal(18, 2)) as variance_amount,
        cast(fx_average_rate as decimal(18, 8)) as fx_average_rate,
        cast(psa_billable_value_reporting as decimal(18, 2)) as psa_billable_value_reporting,
        cast(erp_invoiced_amount_reporting as decimal(18, 2)) as erp_invoiced_amount_reporting,
        cast(psa_billable_value_reporting - erp_invoiced_amount_reporting as decimal(18, 2))
            as variance_amount_reporting,

        -- booleans
        is_unknown_project,
        has_currency_mismatch,
        billing_due_date < {{ as_of_date() }} as is_billing_due,

        -- dates
        month_end_date,
        cast(billing_due_date as date) as billing_due_date

    from classified

)

select * from final
