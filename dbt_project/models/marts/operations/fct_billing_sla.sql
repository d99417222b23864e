-- Billing service levels per month and practice. Time-to-invoice: for every invoice of
-- time-and-materials time, the days from the close of the month it bills (the service month;
-- the PSA export has no approval date) to the invoice date. Milestone-to-billing: for every
-- milestone completed up to the as-of date, the days from its completion to its first
-- invoice. On time means within var('billing_due_days') days. Retainers (invoiced in
-- advance) and fixed-fee instalments (a contract schedule) are not work-driven and are
-- left out.
with

invoice_lines as (

    select * from {{ ref('fct_invoice_lines') }}

),

projects as (

    select * from {{ ref('dim_project') }}

),

milestones as (

    select * from {{ ref('fct_milestones') }}

),

time_invoices as (

    select
        invoice_lines.transaction_id,
        coalesce(projects.practice, 'Unassigned') as practice,
        cast(invoice_lines.service_month_start_date as date) as month_start_date,
        min(invoice_lines.transaction_date) as invoice_date
    from invoice_lines
    inner join projects
        on invoice_lines.project_id = projects.project_id
    where
        invoice_lines.transaction_type = 'CustInvc'
        and invoice_lines.milestone_id is null
        and invoice_lines.service_month_start_date is not null
        and invoice_lines.transaction_date <= {{ as_of_date() }}
        and projects.billing_type = 'time_and_materials'
    group by
        invoice_lines.transaction_id,
        coalesce(projects.practice, 'Unassigned'),
        invoice_lines.service_month_start_date

),

time_measured as (

    select
        practice,
        month_start_date,
        invoice_date - {{ dbt.last_day('month_start_date', 'month') }} as days_to_invoice
    from time_invoices

),

milestones_invoiced as (

    select
        milestone_id,
        min(transaction_date) as invoice_date
    from invoice_lines
    where
        transaction_type = 'CustInvc'
        and milestone_id is not null
        and transaction_date <= {{ as_of_date() }}
    group by milestone_id

),

milestones_measured as (

    select
        coalesce(projects.practice, 'Unassigned') as practice,
        cast(date_trunc('month', milestones.actual_date) as date) as month_start_date,
        milestones_invoiced.invoice_date is not null as is_invoiced,
        milestones_invoiced.invoice_date - milestones.actual_date as days_to_invoice
    from milestones
    inner join projects
        on milestones.project_id = projects.project_id
    left outer join milestones_invoiced
        on milestones.milestone_id = milestones_invoiced.milestone_id
    where
        milestones.is_complete
        and milestones.actual_date <= {{ as_of_date() }}

),

time_by_practice as (

    select
        month_start_date,
        practice,
        count(*) as invoice_count,
        {{ days_distribution('days_to_invoice') }}
    from time_measured
    group by month_start_date, practice

),

milestones_by_practice as (

    select
        month_start_date,
        practice,
        count(*) as completed_count,
        count(*) filter (where is_invoiced) as invoiced_count,
        {{ days_distribution('days_to_invoice') }}
    from milestones_measured
    group by month_start_date, practice

),

practice_months as (

    select
        month_start_date,
        practice
    from time_by_practice
    union
    select
        month_start_date,
        practice
    from milestones_by_practice

),

final as (

    select
        -- ids
        practice_months.month_start_date,
        practice_months.practice,

        -- numerics: time-and-materials time, period close -> invoice (time_invoices_on_time_count
        -- and _share, time_to_invoice_average_days, _median, _p90 and _max_days)
        cast(coalesce(time_by_practice.invoice_count, 0) as integer) as time_invoice_count,
        {{ days_distribution_columns(
            'time_by_practice', 'invoice_count', 'time_invoices', 'time_to_invoice'
        ) }},

        -- numerics: milestones, completion -> first invoice (milestones_invoiced_on_time_count
        -- and _share, milestone_to_invoice_average_days, _median, _p90 and _max_days)
        cast(coalesce(milestones_by_practice.completed_count, 0) as integer)
            as milestones_completed_count,
        cast(coalesce(milestones_by_practice.invoiced_count, 0) as integer)
            as milestones_invoiced_count,
        cast(
            coalesce(milestones_by_practice.completed_count, 0)
            - coalesce(milestones_by_practice.invoiced_count, 0) as integer
        ) as milestones_not_invoiced_count,
        {{ days_distribution_columns(
            'milestones_by_practice', 'invoiced_count', 'milestones_invoiced', 'milestone_to_invoice'
        ) }}

    from practice_months
    left outer join time_by_practice
        on
            practice_months.month_start_date = time_by_practice.month_start_date
            and practice_months.practice = time_by_practice.practice
    left outer join milestones_by_practice
        on
            practice_months.month_start_date = milestones_by_practice.month_start_date
            and practice_months.practice = milestones_by_practice.practice
    where practice_months.month_start_date <= {{ as_of_month_start() }}

)

select * from final
