with

source as (

    select * from {{ source('raw_hris', 'worker_cost_rate') }}

),

renamed as (

    -- Raw columns keep Workday's spelling (`Worker_ID`), quoted: PostgreSQL matches
    -- quoted names case-sensitively. Every column is aliased to its lowercase name.
    select
        -- ids
        "Cost_Rate_ID" as worker_cost_rate_id,
        "Worker_ID" as worker_id,

        -- strings
        "Currency" as currency_code,

        -- numerics
        "Loaded_Cost_Rate" as loaded_cost_rate,

        -- dates
        "Effective_Date" as effective_date,

        -- timestamps
        "Last_Updated" as modified_at,

        -- load metadata
        {{ load_metadata() }}

    from source

)

select * from renamed
