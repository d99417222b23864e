with

source as (

    select * from {{ source('raw_hris', 'holiday') }}

),

renamed as (

    -- Raw columns keep Workday's spelling (`Worker_ID`), quoted: PostgreSQL matches
    -- quoted names case-sensitively. Every column is aliased to its lowercase name.
    select
        -- ids
        "Holiday_ID" as holiday_id,

        -- strings
        "Country" as country_code,
        "Holiday_Name" as holiday_name,

        -- dates
        "Date" as holiday_date,

        -- timestamps
        "Last_Updated" as modified_at,

        -- load metadata
        {{ load_metadata() }}

    from source

)

select * from renamed
