-- How far behind each source object of the landing contract is, measured when this dbt
-- build started (run_started_at_timestamp, UTC): the age of its newest record by the source's
-- own modified timestamp, and the age of the last landing file the loader took in for it.
-- Every object of the contract has a row, loaded or not.
with

loads as (

    select * from {{ ref('int_source_loads_summarized') }}

),

loaded_files as (

    select * from {{ ref('int_source_files_loaded') }}

),

records as (

    select
        source_system,
        source_object,
        source_table,
        has_modified_cursor,
        sum(record_count) as record_count,
        max(newest_modified_at) as newest_record_modified_at,
        max(loaded_at) as last_record_loaded_at
    from loads
    group by source_system, source_object, source_table, has_modified_cursor

),

files as (

    select
        source_table,
        count(*) as files_loaded_count,
        max(loaded_at) as last_file_loaded_at
    from loaded_files
    group by source_table

),

measured as (

    select
        records.*,
        coalesce(files.files_loaded_count, 0) as files_loaded_count,
        files.last_file_loaded_at,
        {{ run_started_at_timestamp() }} as measured_at
    from records
    left outer join files
        on records.source_table = files.source_table

),

final as (

    select
        -- ids
        source_table,

        -- strings
        source_system,
        source_object,

        -- numerics
        cast(record_count as bigint) as record_count,
        cast(files_loaded_count as bigint) as files_loaded_count,
        {{ hours_between('newest_record_modified_at', 'measured_at') }} as record_lag_hours,
        {{ hours_between('last_file_loaded_at', 'measured_at') }} as load_lag_hours,
        cast(
            {{ as_of_date() }} - cast(newest_record_modified_at as date) as integer
        ) as record_lag_days_at_as_of,

        -- booleans
        has_modified_cursor,

        -- dates
        {{ as_of_date() }} as as_of_date,

        -- timestamps
        newest_record_modified_at,
        last_record_loaded_at,
        last_file_loaded_at,
        measured_at

    from measured

)

select * from final
