with

source as (

    select * from {{ source('raw_hris', 'holiday') }}

),

renamed as (

    -- Every column is aliased, some to their own name: unaliased, DuckDB would keep
    -- Workday's spelling (`Worker_ID`) as the column name.
    select
        -- ids
        holiday_id as holiday_id,

        -- strings
        country as country_code,
        holiday_name as holiday_name,

        -- dates
        date as holiday_date,

        -- timestamps
        last_updated as modified_at,

        -- load metadata
        _loaded_at as loaded_at,
        _batch_id as batch_id

    from source

)

select * from renamed
