-- Certinia milestones (non-deleted) with their completion, as int_milestones_flagged
-- builds them, under the mart's contract.
with

milestones as (

    select * from {{ ref('int_milestones_flagged') }}

),

final as (

    select
        -- ids
        milestone_id,
        project_id,

        -- strings
        milestone_name,
        milestone_status,
        currency_code,

        -- numerics
        milestone_amount,

        -- booleans
        is_approved,
        is_complete,

        -- dates
        target_date,
        actual_date

    from milestones

)

select * from final
