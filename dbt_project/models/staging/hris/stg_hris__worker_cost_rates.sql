with

source as (

    select * from {{ source('raw_hris', 'worker_cost_rate') }}

),

renamed as (

    -- Every column is aliased, some to their own name: unaliased, DuckDB would keep
    -- Workday's spelling (`Worker_ID`) as the column name.
    select
        -- ids
        cost_rate_id as worker_cost_rate_id,
        worker_id as worker_id,

        -- strings
        currency as currency_code,

        -- numerics
        loaded_cost_rate as loaded_cost_rate,

        -- dates
        effective_date as effective_date,

        -- timestamps
        last_updated as modified_at,

        -- load metadata
        _loaded_at as loaded_at,
        _batch_id as batch_id

    from source

)

select * from renamed
