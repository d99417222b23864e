with

source as (

    select * from {{ source('raw_hris', 'time_off') }}

),

renamed as (

    -- Raw columns keep Workday's spelling (`Worker_ID`), quoted: PostgreSQL matches
    -- quoted names case-sensitively. Every column is aliased to its lowercase name.
    select
        -- ids
        "Time_Off_Entry_ID" as time_off_entry_id,
        "Worker_ID" as worker_id,

        -- strings
        "Time_Off_Type" as time_off_type,
        "Status" as time_off_status,

        -- numerics
        "Hours" as time_off_hours,

        -- dates
        "Date" as time_off_date,

        -- timestamps
        "Last_Updated" as modified_at,

        -- load metadata
        {{ load_metadata() }}

    from source

)

select * from renamed
