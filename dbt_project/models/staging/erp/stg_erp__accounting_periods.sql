with

source as (

    select * from {{ source('raw_erp', 'accounting_period') }}

),

renamed as (

    select
        -- ids
        id as accounting_period_id,

        -- strings
        periodname as period_name,

        -- booleans
        isquarter as is_quarter,
        isyear as is_year,
        closed as is_closed,

        -- dates
        startdate as period_start_date,
        enddate as period_end_date,

        -- timestamps
        lastmodifieddate as modified_at,

        -- load metadata
        {{ load_metadata() }}

    from source

)

select * from renamed
