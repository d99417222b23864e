-- Certinia milestones (non-deleted). A milestone is complete when its status is Complete,
-- or when the customer approved it and it has an actual date (status not yet updated).
-- Published as marts.fct_milestones.
with

milestones as (

    select * from {{ ref('stg_psa__milestones') }}

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
        cast(milestone_amount as decimal(18, 2)) as milestone_amount,

        -- booleans
        coalesce(is_approved, false) as is_approved,
        coalesce(
            milestone_status = 'Complete'
            or (is_approved and actual_completion_date is not null),
            false
        ) as is_complete,

        -- dates
        target_completion_date as target_date,
        actual_completion_date as actual_date

    from milestones
    where not is_deleted

)

select * from final
