-- Approved billable work still not invoiced once its billing window has passed: the
-- project-months of fct_reconciliation_psa_erp whose month closed more than
-- var('billing_due_days') days before the as-of date and whose PSA billable value exceeds
-- what NetSuite invoiced for that month by more than the tolerance, plus approved billable
-- time that cannot reach an invoice at all (booked on a project the PSA does not know, or
-- without a bill rate) and has none. Aged from the day the month closed.
with

reconciliation as (

    select * from {{ ref('fct_reconciliation_psa_erp') }}

),

leaking as (

    select
        *,
        case
            when reconciliation_status in ('not_invoiced', 'under_invoiced')
                then variance_amount
        end as leakage_amount,
        case
            when reconciliation_status in ('not_invoiced', 'under_invoiced')
                then variance_amount_reporting
        end as leakage_amount_reporting,
        {{ as_of_date() }} - month_end_date as days_since_period_close
    from reconciliation
    where
        is_billing_due
        and (
            reconciliation_status in ('not_invoiced', 'under_invoiced')
            or (
                reconciliation_status in ('unknown_project', 'unvalued_psa_work')
                and psa_billable_hours > 0
                and erp_invoiced_amount = 0
            )
        )

),

final as (

    select
        {{ project_month_columns() }},
        cast(reconciliation_status as varchar) as leakage_reason,
        cast(
            case
                when days_since_period_close <= 30 then '0-30'
                when days_since_period_close <= 60 then '31-60'
                when days_since_period_close <= 90 then '61-90'
                else '90+'
            end as varchar
        ) as age_bucket,

        -- numerics
        psa_billable_hours,
        psa_billable_value,
        cast(psa_billing_event_count - psa_billing_events_invoiced_count as integer)
            as psa_billing_events_not_invoiced_count,
        erp_invoiced_amount,
        cast(leakage_amount as decimal(18, 2)) as leakage_amount,
        fx_average_rate,
        cast(leakage_amount_reporting as decimal(18, 2)) as leakage_amount_reporting,
        cast(days_since_period_close as integer) as days_since_period_close,

        -- dates
        month_end_date as period_close_date,
        billing_due_date,
        {{ as_of_date() }} as as_of_date

    from leaking

)

select * from final
