-- Workday loaded cost rate history as validity intervals: each rate applies from its
-- effective date until the worker's next effective date (exclusive), the last one open.
with

worker_cost_rates as (

    select * from {{ ref('stg_hris__worker_cost_rates') }}

),

final as (

    select
        -- ids
        worker_cost_rate_id,
        worker_id,

        -- strings
        currency_code,

        -- numerics
        cast(loaded_cost_rate as decimal(18, 2)) as loaded_cost_rate,

        -- dates
        effective_date as valid_from_date,
        lead(effective_date) over (
            partition by worker_id
            order by effective_date, worker_cost_rate_id
        ) as valid_to_date

    from worker_cost_rates

)

select * from final
