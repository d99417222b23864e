with

source as (

    select * from {{ source('raw_hris', 'worker') }}

),

renamed as (

    -- Every column is aliased, some to their own name: unaliased, DuckDB would keep
    -- Workday's spelling (`Worker_ID`) as the column name.
    select
        -- ids
        worker_id as worker_id,

        -- strings
        worker as worker_name,
        email_address as email_address,
        company_id as legal_entity_code,
        location_country as location_country_code,
        practice as practice,
        region as region,
        job_profile as role_code,
        worker_type as worker_type,

        -- numerics
        scheduled_weekly_hours as scheduled_weekly_hours,

        -- dates
        hire_date as hire_date,
        termination_date as termination_date,

        -- timestamps
        last_updated as modified_at,

        -- load metadata
        _loaded_at as loaded_at,
        _batch_id as batch_id

    from source

)

select * from renamed
