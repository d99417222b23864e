-- Weighted pipeline per open opportunity and delivery month, in the opportunity currency.
-- Weighted amount = amount × probability ÷ 100 (Salesforce ExpectedRevenue), rounded to
-- cents, spread in equal parts over delivery_months calendar months starting the month
-- after the close date's month; the last month takes the rounding remainder, so the parts
-- add up to the weighted amount exactly. A close date before the as-of month is stale
-- (the deal is still open), so delivery then starts the month after the as-of month.
-- Open means not closed and not deleted; a probability outside 0-100, a missing amount,
-- close date or delivery period makes the deal unvaluable (fct_valuation_exceptions). An
-- opportunity that already has a PSA project is left out: that project's schedule carries
-- its revenue.
with

opportunities as (

    select * from {{ ref('int_opportunities_flagged') }}

),

projects as (

    select * from {{ ref('int_projects_joined') }}

),

months as (

    select * from {{ ref('int_calendar_months') }}

),

open_opportunities as (

    select opportunities.*
    from opportunities
    where
        not opportunities.is_closed
        and not opportunities.is_deleted
        and not opportunities.has_invalid_probability
        and opportunities.amount is not null
        and opportunities.close_date is not null
        and opportunities.delivery_months >= 1
        and not exists (
            select 1
            from projects
            where projects.crm_opportunity_id = opportunities.crm_opportunity_id
        )

),

weighted as (

    select
        *,
        {{ divide_to_cents('cast(amount as decimal(38, 2)) * probability_percent', '100') }}
            as weighted_amount,
        cast(
            {{ dbt.dateadd(
                'month',
                1,
                "greatest(cast(date_trunc('month', close_date) as date), "
                ~ as_of_month_start() ~ ")"
            ) }} as date
        ) as first_delivery_month_start_date
    from open_opportunities

),

spread as (

    select
        weighted.*,
        months.month_start_date,
        {{ divide_to_cents('weighted.weighted_amount', 'weighted.delivery_months') }}
            as regular_month_amount
    from weighted
    inner join months
        on
            months.month_start_date
            between weighted.first_delivery_month_start_date
            and {{ dbt.dateadd(
                'month',
                'weighted.delivery_months - 1',
                'weighted.first_delivery_month_start_date'
            ) }}

),

final as (

    select
        -- ids
        crm_opportunity_id,
        month_start_date,

        -- strings
        legal_entity_code,
        practice,
        currency_code,
        opportunity_stage,

        -- numerics
        amount,
        probability_percent,
        delivery_months,
        cast(weighted_amount as decimal(18, 2)) as weighted_amount,
        cast(
            case
                when
                    month_start_date
                    = {{ dbt.dateadd(
                        'month', 'delivery_months - 1', 'first_delivery_month_start_date'
                    ) }}
                    then weighted_amount - regular_month_amount * (delivery_months - 1)
                else regular_month_amount
            end as decimal(18, 2)
        ) as weighted_revenue,

        -- dates
        close_date,
        first_delivery_month_start_date

    from spread

)

select * from final
