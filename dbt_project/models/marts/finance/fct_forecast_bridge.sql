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

pair_lines as (

    -- Both versions' lines, each flagged with the version(s) it belongs to.
    select
        version_lines.*,
        version_lines.as_of_date = pair_months.from_as_of_date as is_from_version,
        version_lines.as_of_date = pair_months.to_as_of_date as is_to_version
    from version_lines
    inner join pair_months
        on version_lines.as_of_date in (pair_months.from_as_of_date, pair_months.to_as_of_date)

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
record_versions as (

    select
        record_type,
        record_id,
        count(*) filter (where is_from_version) > 0 as is_in_from_version,
        count(*) filter (where is_to_version) > 0 as is_in_to_version
    from pair_lines
    group by record_type, record_id

),

won_opportunities as (

    select distinct crm_opportunity_id
    from pair_lines
    where is_to_version and record_type = 'project' and crm_opportunity_id is not null

),

records as (

    select
        record_type,
        record_id,
        case
            when is_in_from_version and is_in_to_version then 'in_both'
            when is_in_to_version then 'new'
            when
                record_type = 'opportunity'
                and record_id in (
                    select won_opportunities.crm_opportunity_id from won_opportunities
                )
                then 'won'
            when record_type = 'opportunity' then 'lost'
            else 'gone'
        end as record_status
    from record_versions

),

-- The earlier version's rate of each currency and month (the later version's where the
-- earlier one has none: no FX effect then).
fx_rates as (

    select
        currency_code,
        month_start_date,
        coalesce(
            max(fx_average_rate) filter (where is_from_version),
            max(fx_average_rate) filter (where is_to_version)
        ) as from_fx_average_rate
    from pair_lines
    group by currency_code, month_start_date

),

later_deal_terms as (

    select
        record_id,
        max(opportunity_amount) as opportunity_amount,
        max(probability_percent) as probability_percent
    from pair_lines
    where is_to_version and record_type = 'opportunity'
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

compared_lines as (

    -- The lines the drivers walk: both versions' lines in the months forecast in both
    -- versions, with their record's status and the earlier version's rate of their
    -- currency and month.
    select
        pair_lines.*,
        records.record_status,
        pair_lines.record_type = 'opportunity' and records.record_status = 'in_both'
            as is_open_deal_in_both,
        fx_rates.from_fx_average_rate
    from pair_lines
    cross join pair_months
    inner join records
        on
            pair_lines.record_type = records.record_type
            and pair_lines.record_id = records.record_id
    left outer join fx_rates
        on
            pair_lines.currency_code = fx_rates.currency_code
            and pair_lines.month_start_date = fx_rates.month_start_date
    where
        pair_lines.month_start_date >= pair_months.to_month_start_date
        and pair_lines.month_start_date in (
            select shared_months.month_start_date from shared_months
        )

),

from_lines as (

    -- The earlier version's lines, with the later version's terms of their deal.
    select
        compared_lines.*,
        coalesce(compared_lines.fx_average_rate, compared_lines.from_fx_average_rate) as from_rate,
        {{ divide_to_cents(
            'cast(compared_lines.opportunity_amount as decimal(38, 2))'
            ~ ' * later_deal_terms.probability_percent',
            '100'
        ) }} as weighted_at_later_probability,
        {{ divide_to_cents(
            'cast(later_deal_terms.opportunity_amount as decimal(38, 2))'
            ~ ' * later_deal_terms.probability_percent',
            '100'
        ) }} as weighted_at_later_terms,
        compared_lines.month_start_date = {{ dbt.dateadd(
            'month',
            'compared_lines.delivery_months - 1',
            'compared_lines.first_delivery_month_start_date'
        ) }} as is_last_delivery_month
    from compared_lines
    left outer join later_deal_terms
        on
            compared_lines.record_type = 'opportunity'
            and compared_lines.record_id = later_deal_terms.record_id
    where compared_lines.is_from_version

),

to_lines as (

    -- The later version's lines, a time-and-materials project-month also at the earlier
    -- version's bill rates.
    select
        compared_lines.*,
        coalesce(compared_lines.from_fx_average_rate, compared_lines.fx_average_rate) as from_rate,
        case
            when compared_lines.billing_type = 'time_and_materials'
                then coalesce(later_schedule_at_earlier_rates.revenue, compared_lines.revenue)
            else compared_lines.revenue
        end as revenue_at_earlier_rates
    from compared_lines
    left outer join later_schedule_at_earlier_rates
        on
            compared_lines.record_type = 'project'
            and compared_lines.record_id = later_schedule_at_earlier_rates.project_id
            and compared_lines.month_start_date = later_schedule_at_earlier_rates.month_start_date
    where compared_lines.is_to_version

),

from_line_states as (

    -- S1 and S2 value each open deal of both versions at the later version's terms: the
    -- later probability, then the later amount too.
    select
        legal_entity_code,
        practice,
        month_start_date,
        revenue_reporting as state_0,
        {% for weighted_amount in ['weighted_at_later_probability', 'weighted_at_later_terms'] -%}
            case
                when is_open_deal_in_both
                    then {{ convert_to_cents(
                        pipeline_month_amount(
                            weighted_amount, 'delivery_months', 'is_last_delivery_month'
                        ),
                        'from_rate'
                    ) }}
                else revenue_reporting
            end as state_{{ loop.index }},
        {% endfor -%}
        case when is_open_deal_in_both then 0 else revenue_reporting end as state_3,
        case
            when record_type = 'opportunity' and record_status in ('in_both', 'lost') then 0
            else revenue_reporting
        end as state_4,
        case when record_type = 'opportunity' then 0 else revenue_reporting end as state_5,
        0 as state_6,
        0 as state_7,
        0 as state_8
    from from_lines

),

to_line_amounts as (

    -- The later version's lines at the earlier version's FX rates: as they are, and at the
    -- earlier bill rates.
    select
        *,
        record_status = 'new' or record_type = 'opportunity' as is_new_or_deal,
        {{ convert_to_cents('revenue', 'from_rate') }} as revenue_at_earlier_fx,
        {{ convert_to_cents('revenue_at_earlier_rates', 'from_rate') }}
            as revenue_at_earlier_rates_and_fx
    from to_lines

),

to_line_states as (

    -- A later line comes in with its driver: an open deal of both versions at S3, new work
    -- and all of the later version's deals at S5, a project of both versions at S6 at the
    -- earlier bill rates, at its own at S7; at the later FX rates at S8.
    select
        legal_entity_code,
        practice,
        month_start_date,
        0 as state_0,
        0 as state_1,
        0 as state_2,
        case when is_open_deal_in_both then revenue_at_earlier_fx else 0 end as state_3,
        case when is_open_deal_in_both then revenue_at_earlier_fx else 0 end as state_4,
        case when is_new_or_deal then revenue_at_earlier_fx else 0 end as state_5,
        case
            when is_new_or_deal then revenue_at_earlier_fx else revenue_at_earlier_rates_and_fx
        end as state_6,
        revenue_at_earlier_fx as state_7,
        revenue_reporting as state_8
    from to_line_amounts

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
        *,
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
