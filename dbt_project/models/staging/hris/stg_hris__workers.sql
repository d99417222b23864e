with

source as (

    select * from {{ source('raw_hris', 'worker') }}

),

renamed as (

    -- Raw columns keep Workday's spelling (`Worker_ID`), quoted: PostgreSQL matches
    -- quoted names case-sensitively. Every column is aliased to its lowercase name.
    select
        -- ids
        "Worker_ID" as worker_id,

        -- strings
        "Worker" as worker_name,
        "Email_Address" as email_address,
        "Company_ID" as legal_entity_code,
        "Location_Country" as location_country_code,
        "Practice" as practice,
        "Region" as region,
        "Job_Profile" as role_code,
        "Worker_Type" as worker_type,

        -- numerics
        "Scheduled_Weekly_Hours" as scheduled_weekly_hours,

        -- dates
        "Hire_Date" as hire_date,
        "Termination_Date" as termination_date,

        -- timestamps
        "Last_Updated" as modified_at,

        -- load metadata
        {{ load_metadata() }}

    from source

)

select * from renamed
