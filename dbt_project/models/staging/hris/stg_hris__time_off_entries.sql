with

source as (

    select * from {{ source('raw_hris', 'time_off') }}

),

renamed as (

    -- Every column is aliased, some to their own name: unaliased, DuckDB would keep
    -- Workday's spelling (`Worker_ID`) as the column name.
    select
        -- ids
        time_off_entry_id as time_off_entry_id,
        worker_id as worker_id,

        -- strings
        time_off_type as time_off_type,
        status as time_off_status,

        -- numerics
        hours as time_off_hours,

        -- dates
        date as time_off_date,

        -- timestamps
        last_updated as modified_at,

        -- load metadata
        _loaded_at as loaded_at,
        _batch_id as batch_id

    from source

)

select * from renamed
