-- The change between two revenue forecast versions per legal entity, practice and month,
-- split into named drivers that add up to it to the cent, in the reporting currency.
-- The pair: vars bridge_from_as_of_date and bridge_to_as_of_date, by default the newest
-- version before this run's and this run's (macros/forecast_versions.sql). Months both
-- versions hold are compared:
--   a month actual in both:        actuals_restated_change = the whole change
--   a month that closed between:   actuals_replacing_forecast_change = the whole change
--   a month forecast in both:      the change walked line by line (fct_revenue_forecast_
--     version_lines) from the earlier version to the later one, one driver at a time, in
--     this order, each valued at the earlier version's FX rates until the last:
--     S0 earlier version
--     S1 open deals of both versions at the later probability    pipeline_probability_change
--     S2 ... and at the later amount                             pipeline_amount_change
--     S3 ... as the later version spreads them (close date,
--        delivery months, a stale close date moved on)           pipeline_close_date_change
--     S4 deals out of the pipeline without a project (lost)      pipeline_lost_change
--     S5 deals won (the earlier weighting out), new deals and
--        new projects in                                         new_work_won_change
--     S6 projects of both versions: the later schedule at the
--        earlier bill rates; projects gone                       schedule_change
--     S7 ... at the later bill rates (the later version's lines) rate_change
--     S8 every later line at the later FX rates (the later
--        version)                                                fx_change
--   Each state is a set of lines rounded to cents as the forecast rounds them, so the
--   drivers telescope: their sum is S8 − S0, the change, exactly. No residual.
with

version_lines as (

    select * from {{ ref('fct_revenue_forecast_version_lines') }}

),

version_assignments as (

    select * from {{ ref('fct_revenue_forecast_version_assignments') }}

),

versions as (

    select * from {{ ref('fct_revenue_forecast_versions') }}

),

pair as (

    select
        {{ bridge_from_as_of_date(ref('fct_revenue_forecast_versions')) }} as from_as_of_date,
        {{ bridge_to_as_of_date() }} as to_as_of_date

),

pair_months as (

    select
        from_as_of_date,
        to_as_of_date,
        cast(date_trunc('month', from_as_of_date) as date) as from_month_start_date,
        cast(date_trunc('month', to_as_of_date) as date) as to_month_start_date
    from pair

),

from_lines_all as (

    select version_lines.*
    from version_lines
    inner join pair_months on version_lines.as_of_date = pair_months.from_as_of_date

),

to_lines_all as (

    select version_lines.*
    from version_lines
    inner join pair_months on version_lines.as_of_date = pair_months.to_as_of_date

),

shared_months as (

    -- The months both versions hold.
    select distinct from_versions.month_start_date
    from versions as from_versions
    inner join pair_months on from_versions.as_of_date = pair_months.from_as_of_date
    inner join versions as to_versions
        on
            from_versions.month_start_date = to_versions.month_start_date
            and pair_months.to_as_of_date = to_versions.as_of_date

),

cell_totals as (

    select
        versions.legal_entity_code,
        versions.practice,
        versions.month_start_date,
        versions.as_of_date = pair_months.to_as_of_date as is_to_version,
        {{ strict_sum('versions.revenue') }} as revenue
    from versions
    inner join pair_months
        on versions.as_of_date in (pair_months.from_as_of_date, pair_months.to_as_of_date)
    where versions.month_start_date in (select shared_months.month_start_date from shared_months)
    group by
        versions.legal_entity_code,
        versions.practice,
        versions.month_start_date,
        versions.as_of_date = pair_months.to_as_of_date

),

cells as (

    select distinct
        legal_entity_code,
        practice,
        month_start_date
    from cell_totals

),

-- What each record is in the pair: an opportunity open in both, lost, won or new; a project
-- in both, gone or new.
from_records as (

    select distinct
        record_type,
        record_id
    from from_lines_all

),

to_records as (

    select distinct
        record_type,
        record_id
    from to_lines_all

),

won_opportunities as (

    select distinct crm_opportunity_id
    from to_lines_all
    where record_type = 'project' and crm_opportunity_id is not null

),

records as (

    select
        coalesce(from_records.record_type, to_records.record_type) as record_type,
        coalesce(from_records.record_id, to_records.record_id) as record_id,
        case
            when from_records.record_id is not null and to_records.record_id is not null
                then 'in_both'
            when to_records.record_id is not null then 'new'
            when
                from_records.record_type = 'opportunity'
                and from_records.record_id in (
                    select won_opportunities.crm_opportunity_id from won_opportunities
                )
                then 'won'
            when from_records.record_type = 'opportunity' then 'lost'
            else 'gone'
        end as record_status
    from from_records
    full outer join to_records
        on
            from_records.record_type = to_records.record_type
            and from_records.record_id = to_records.record_id

),

-- The earlier version's rate of each currency and month (the later version's where the
-- earlier one has none: no FX effect then).
from_rates as (

    select
        currency_code,
        month_start_date,
        max(fx_average_rate) as fx_average_rate
    from from_lines_all
    group by currency_code, month_start_date

),

to_rates as (

    select
        currency_code,
        month_start_date,
        max(fx_average_rate) as fx_average_rate
    from to_lines_all
    group by currency_code, month_start_date

),

fx_rates as (

    select
        coalesce(from_rates.currency_code, to_rates.currency_code) as currency_code,
        coalesce(from_rates.month_start_date, to_rates.month_start_date) as month_start_date,
        coalesce(from_rates.fx_average_rate, to_rates.fx_average_rate) as from_fx_average_rate
    from from_rates
    full outer join to_rates
        on
            from_rates.currency_code = to_rates.currency_code
            and from_rates.month_start_date = to_rates.month_start_date

),

later_deal_terms as (

    select
        record_id,
        max(opportunity_amount) as opportunity_amount,
        max(probability_percent) as probability_percent
    from to_lines_all
    where record_type = 'opportunity'
    group by record_id

),

earlier_bill_rates as (

    select
        version_assignments.assignment_id,
        max(version_assignments.bill_rate) as bill_rate
    from version_assignments
    inner join pair_months on version_assignments.as_of_date = pair_months.from_as_of_date
    group by version_assignments.assignment_id

),

later_schedule_at_earlier_rates as (

    -- A time-and-materials project-month of the later version valued at the earlier
    -- version's bill rate of each assignment (the later rate for a new assignment).
    select
        version_assignments.project_id,
        version_assignments.month_start_date,
        {{ round_to_cents(
            'sum(version_assignments.billable_hours'
            ~ ' * coalesce(earlier_bill_rates.bill_rate, version_assignments.bill_rate))'
        ) }} as revenue
    from version_assignments
    inner join pair_months on version_assignments.as_of_date = pair_months.to_as_of_date
    left outer join earlier_bill_rates
        on version_assignments.assignment_id = earlier_bill_rates.assignment_id
    group by version_assignments.project_id, version_assignments.month_start_date

),

from_lines as (

    -- The earlier version's lines in the months forecast in both versions.
    select
        from_lines_all.*,
        records.record_status,
        coalesce(from_lines_all.fx_average_rate, fx_rates.from_fx_average_rate) as from_rate,
        {{ divide_to_cents(
            'cast(from_lines_all.opportunity_amount as decimal(38, 2))'
            ~ ' * later_deal_terms.probability_percent',
            '100'
        ) }} as weighted_at_later_probability,
        {{ divide_to_cents(
            'cast(later_deal_terms.opportunity_amount as decimal(38, 2))'
            ~ ' * later_deal_terms.probability_percent',
            '100'
        ) }} as weighted_at_later_terms,
        from_lines_all.month_start_date = {{ dbt.dateadd(
            'month',
            'from_lines_all.delivery_months - 1',
            'from_lines_all.first_delivery_month_start_date'
        ) }} as is_last_delivery_month
    from from_lines_all
    cross join pair_months
    inner join records
        on
            from_lines_all.record_type = records.record_type
            and from_lines_all.record_id = records.record_id
    left outer join fx_rates
        on
            from_lines_all.currency_code = fx_rates.currency_code
            and from_lines_all.month_start_date = fx_rates.month_start_date
    left outer join later_deal_terms
        on
            from_lines_all.record_type = 'opportunity'
            and from_lines_all.record_id = later_deal_terms.record_id
    where
        from_lines_all.month_start_date >= pair_months.to_month_start_date
        and from_lines_all.month_start_date in (
            select shared_months.month_start_date from shared_months
        )

),

to_lines as (

    -- The later version's lines in the months forecast in both versions.
    select
        to_lines_all.*,
        records.record_status,
        coalesce(fx_rates.from_fx_average_rate, to_lines_all.fx_average_rate) as from_rate,
        case
            when to_lines_all.billing_type = 'time_and_materials'
                then coalesce(later_schedule_at_earlier_rates.revenue, to_lines_all.revenue)
            else to_lines_all.revenue
        end as revenue_at_earlier_rates
    from to_lines_all
    cross join pair_months
    inner join records
        on
            to_lines_all.record_type = records.record_type
            and to_lines_all.record_id = records.record_id
    left outer join fx_rates
        on
            to_lines_all.currency_code = fx_rates.currency_code
            and to_lines_all.month_start_date = fx_rates.month_start_date
    left outer join later_schedule_at_earlier_rates
        on
            to_lines_all.record_type = 'project'
            and to_lines_all.record_id = later_schedule_at_earlier_rates.project_id
            and to_lines_all.month_start_date = later_schedule_at_earlier_rates.month_start_date
    where
        to_lines_all.month_start_date >= pair_months.to_month_start_date
        and to_lines_all.month_start_date in (
            select shared_months.month_start_date from shared_months
        )

),

from_line_states as (

    select
        legal_entity_code,
        practice,
        month_start_date,
        revenue_reporting as state_0,
        case
            when record_type = 'opportunity' and record_status = 'in_both'
                then {{ convert_to_cents(
                    pipeline_month_amount(
                        'weighted_at_later_probability', 'delivery_months', 'is_last_delivery_month'
                    ),
                    'from_rate'
                ) }}
            else revenue_reporting
        end as state_1,
        case
            when record_type = 'opportunity' and record_status = 'in_both'
                then {{ convert_to_cents(
                    pipeline_month_amount(
                        'weighted_at_later_terms', 'delivery_months', 'is_last_delivery_month'
                    ),
                    'from_rate'
                ) }}
            else revenue_reporting
        end as state_2,
        case
            when record_type = 'opportunity' and record_status = 'in_both' then 0
            else revenue_reporting
        end as state_3,
        case
            when record_type = 'opportunity' and record_status in ('in_both', 'lost') then 0
            else revenue_reporting
        end as state_4,
        case
            when record_type = 'opportunity' then 0
            else revenue_reporting
        end as state_5,
        0 as state_6,
        0 as state_7,
        0 as state_8
    from from_lines

),

to_line_states as (

    select
        legal_entity_code,
        practice,
        month_start_date,
        0 as state_0,
        0 as state_1,
        0 as state_2,
        case
            when record_type = 'opportunity' and record_status = 'in_both'
                then {{ convert_to_cents('revenue', 'from_rate') }}
            else 0
        end as state_3,
        case
            when record_type = 'opportunity' and record_status = 'in_both'
                then {{ convert_to_cents('revenue', 'from_rate') }}
            else 0
        end as state_4,
        case
            when record_status = 'new' or record_type = 'opportunity'
                then {{ convert_to_cents('revenue', 'from_rate') }}
            else 0
        end as state_5,
        case
            when record_status = 'new' or record_type = 'opportunity'
                then {{ convert_to_cents('revenue', 'from_rate') }}
            else {{ convert_to_cents('revenue_at_earlier_rates', 'from_rate') }}
        end as state_6,
        {{ convert_to_cents('revenue', 'from_rate') }} as state_7,
        revenue_reporting as state_8
    from to_lines

),

line_states as (

    select * from from_line_states
    union all
    select * from to_line_states

),

cell_states as (

    select
        {% for state in range(9) -%}
            {{ strict_sum('state_' ~ state) }} as state_{{ state }},
        {% endfor -%}
        legal_entity_code,
        practice,
        month_start_date
    from line_states
    group by legal_entity_code, practice, month_start_date

),

joined as (

    select
        pair_months.from_as_of_date,
        pair_months.to_as_of_date,
        cells.legal_entity_code,
        cells.practice,
        cells.month_start_date,
        case
            when cells.month_start_date < pair_months.from_month_start_date then 'actual'
            when cells.month_start_date < pair_months.to_month_start_date then 'closed'
            else 'forecast'
        end as month_status,
        case
            when from_totals.legal_entity_code is null then 0 else from_totals.revenue
        end as from_revenue,
        case
            when to_totals.legal_entity_code is null then 0 else to_totals.revenue
        end as to_revenue,
        {% for state in range(9) -%}
            coalesce(cell_states.state_{{ state }}, 0) as state_{{ state }},
        {% endfor -%}
        cell_states.legal_entity_code is not null
        and ({{ 'cell_states.state_' ~ range(9) | join(' is null or cell_states.state_') }} is null)
            as has_unknown_state
    from cells
    cross join pair_months
    left outer join cell_totals as from_totals
        on
            cells.legal_entity_code = from_totals.legal_entity_code
            and cells.practice = from_totals.practice
            and cells.month_start_date = from_totals.month_start_date
            and not from_totals.is_to_version
    left outer join cell_totals as to_totals
        on
            cells.legal_entity_code = to_totals.legal_entity_code
            and cells.practice = to_totals.practice
            and cells.month_start_date = to_totals.month_start_date
            and to_totals.is_to_version
    left outer join cell_states
        on
            cells.legal_entity_code = cell_states.legal_entity_code
            and cells.practice = cell_states.practice
            and cells.month_start_date = cell_states.month_start_date

),

drivers as (

    -- Cells of months not forecast in both versions have no lines: every state is 0 there.
    select
        from_as_of_date,
        to_as_of_date,
        legal_entity_code,
        practice,
        month_start_date,
        month_status,
        from_revenue,
        to_revenue,
        from_revenue is null or to_revenue is null or has_unknown_state as is_unknown,
        case
            when month_status = 'actual' then to_revenue - from_revenue else 0
        end as actuals_restated_change,
        case
            when month_status = 'closed' then to_revenue - from_revenue else 0
        end as actuals_replacing_forecast_change,
        state_1 - state_0 as pipeline_probability_change,
        state_2 - state_1 as pipeline_amount_change,
        state_3 - state_2 as pipeline_close_date_change,
        state_4 - state_3 as pipeline_lost_change,
        state_5 - state_4 as new_work_won_change,
        state_6 - state_5 as schedule_change,
        state_7 - state_6 as rate_change,
        state_8 - state_7 as fx_change
    from joined

),

final as (

    -- Unknown (null) throughout when either version's figure is unknown.
    select
        -- ids
        from_as_of_date,
        to_as_of_date,
        legal_entity_code,
        practice,
        month_start_date,

        -- strings
        cast(month_status as varchar) as month_status,
        cast({{ reporting_currency() }} as varchar) as reporting_currency_code,

        -- numerics
        cast(from_revenue as decimal(18, 2)) as from_revenue,
        cast(to_revenue as decimal(18, 2)) as to_revenue,
        cast(to_revenue - from_revenue as decimal(18, 2)) as total_change,
        {{ known_amount('actuals_restated_change') }} as actuals_restated_change,
        {{ known_amount('actuals_replacing_forecast_change') }}
            as actuals_replacing_forecast_change,
        {{ known_amount('pipeline_probability_change') }} as pipeline_probability_change,
        {{ known_amount('pipeline_amount_change') }} as pipeline_amount_change,
        {{ known_amount('pipeline_close_date_change') }} as pipeline_close_date_change,
        {{ known_amount('pipeline_lost_change') }} as pipeline_lost_change,
        {{ known_amount('new_work_won_change') }} as new_work_won_change,
        {{ known_amount('schedule_change') }} as schedule_change,
        {{ known_amount('rate_change') }} as rate_change,
        {{ known_amount('fx_change') }} as fx_change

    from drivers

)

select * from final
