-- The straight-line schedule of every retainer: the contract value spread in equal parts
-- over each calendar month the term [start_date, end_date] touches (a term from 27 Oct to
-- 15 May is 8 months, October and May counting in full). Each month gets the contract
-- value ÷ months rounded to cents; the last month takes the rounding remainder, so the
-- months always add up to the contract value exactly. Recognition reads the months up to
-- the as-of month, the forecast the months from it on, the backlog the months after each
-- month end. A retainer without contract value or dates has no schedule and is listed in
-- fct_valuation_exceptions.
with

projects as (

    select * from {{ ref('int_projects_joined') }}

),

months as (

    select * from {{ ref('int_calendar_months') }}

),

retainers as (

    select
        project_id,
        contract_amount,
        cast(date_trunc('month', start_date) as date) as first_month_start_date,
        cast(date_trunc('month', end_date) as date) as last_month_start_date,
        cast({{ dbt.datediff('start_date', 'end_date', 'month') }} as integer) + 1 as term_months
    from projects
    where
        billing_type = 'retainer'
        and contract_amount is not null
        and start_date is not null
        and end_date >= start_date

),

retainer_months as (

    select
        retainers.*,
        months.month_start_date,
        {{ divide_to_cents('retainers.contract_amount', 'retainers.term_months') }}
            as regular_month_amount
    from retainers
    inner join months
        on
            months.month_start_date
            between retainers.first_month_start_date and retainers.last_month_start_date

),

final as (

    select
        -- ids
        project_id,

        -- numerics
        cast(term_months as integer) as term_months,
        cast(
            case
                when month_start_date = last_month_start_date
                    then contract_amount - regular_month_amount * (term_months - 1)
                else regular_month_amount
            end as decimal(18, 2)
        ) as retainer_amount,

        -- dates
        month_start_date

    from retainer_months

)

select * from final
