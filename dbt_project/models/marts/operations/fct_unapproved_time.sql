-- The unapproved-time backlog: every timecard the PSA holds as Saved or Submitted (entered
-- but not approved; Rejected is a decision, Approved is actual time), one row each, with
-- its hours and their standard value in the reporting currency, aged from the day its week
-- ended. Standard value is the rate card's standard bill rate of the resource's role and
-- legal entity on each day (dim_rate_card, the rate fct_revenue_leakage and fct_backlog
-- value time at), billable hours only, each day converted at its month's average rate and
-- the timecard's sum rounded to cents once; a day without a rate card line or an FX rate
-- makes the timecard's value unknown (null). No individual cost rate is read. Legal entity
-- and practice are the resource's (who has to submit or approve); the project is named.
with

timecards as (

    select * from {{ ref('stg_psa__timecard_headers') }}

),

time_entries as (

    select * from {{ ref('fct_time_entries') }}

),

resources as (

    select * from {{ ref('int_resources_joined') }}

),

rate_cards as (

    select * from {{ ref('dim_rate_card') }}

),

fx_rates as (

    select * from {{ ref('dim_fx_rate') }}

),

unapproved_timecards as (

    select * from timecards
    where
        not is_deleted
        and timecard_status in ('Saved', 'Submitted')

),

entries_valued as (

    select
        time_entries.timecard_id,
        time_entries.hours,
        case when time_entries.is_billable then time_entries.hours else 0 end as billable_hours,
        case
            when time_entries.is_billable
                then
                    cast(time_entries.hours * rate_cards.standard_bill_rate as decimal(38, 4))
                    * {{ rate_to_reporting('fx_rates.average_rate', 'rate_cards.currency_code') }}
            else 0
        end as standard_value_reporting_exact
    from time_entries
    inner join unapproved_timecards
        on time_entries.timecard_id = unapproved_timecards.timecard_id
    left outer join resources
        on time_entries.resource_id = resources.resource_id
    left outer join rate_cards
        on
            resources.role_code = rate_cards.role_code
            and resources.legal_entity_code = rate_cards.legal_entity_code
            and {{ valid_on('rate_cards', 'time_entries.entry_date') }}
    left outer join fx_rates
        on
            rate_cards.currency_code = fx_rates.from_currency_code
            and cast(date_trunc('month', time_entries.entry_date) as date)
            = fx_rates.month_start_date

),

timecard_values as (

    select
        timecard_id,
        sum(hours) as hours,
        sum(billable_hours) as billable_hours,
        {{ strict_sum('standard_value_reporting_exact') }} as standard_value_reporting_exact
    from entries_valued
    group by timecard_id

),

aged as (

    -- A week that has not ended yet is 0 days old.
    select
        unapproved_timecards.*,
        resources.worker_id,
        resources.legal_entity_code,
        resources.practice,
        coalesce(timecard_values.hours, 0) as hours,
        coalesce(timecard_values.billable_hours, 0) as billable_hours,
        case
            when timecard_values.timecard_id is null then 0
            else timecard_values.standard_value_reporting_exact
        end as standard_value_reporting_exact,
        greatest({{ as_of_date() }} - unapproved_timecards.week_end_date, 0) as age_days
    from unapproved_timecards
    left outer join timecard_values
        on unapproved_timecards.timecard_id = timecard_values.timecard_id
    left outer join resources
        on unapproved_timecards.resource_id = resources.resource_id

),

final as (

    select
        -- ids
        timecard_id,
        resource_id,
        worker_id,
        project_id,

        -- strings
        legal_entity_code,
        practice,
        timecard_status,
        cast(
            case
                when age_days <= 7 then '0-7'
                when age_days <= 14 then '8-14'
                when age_days <= 30 then '15-30'
                else '31+'
            end as varchar
        ) as age_bucket,
        cast({{ reporting_currency() }} as varchar) as reporting_currency_code,

        -- numerics
        cast(hours as decimal(18, 2)) as hours,
        cast(billable_hours as decimal(18, 2)) as billable_hours,
        {{ round_to_cents('standard_value_reporting_exact') }} as standard_value_reporting,
        cast(age_days as integer) as age_days,

        -- booleans
        standard_value_reporting_exact is null as is_standard_value_unknown,

        -- dates
        week_start_date,
        week_end_date,
        {{ as_of_date() }} as as_of_date

    from aged

)

select * from final
