-- Certinia assignment schedules spread to days, as int_scheduled_hours_spread builds them,
-- under the mart's contract.
with

scheduled_hours as (

    select * from {{ ref('int_scheduled_hours_spread') }}

),

final as (

    select
        -- ids
        scheduled_hours_id,
        assignment_id,
        project_id,
        resource_id,

        -- strings
        legal_entity_code,
        currency_code,

        -- numerics
        bill_rate,
        pattern_hours,
        scheduled_hours,

        -- booleans
        is_billable,
        is_holiday,
        has_time_off,

        -- dates
        scheduled_date

    from scheduled_hours

)

select * from final
