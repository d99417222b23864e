with

source as (

    select * from {{ source('raw_hris', 'rate_card') }}

),

renamed as (

    -- Raw columns keep Workday's spelling (`Worker_ID`), quoted: PostgreSQL matches
    -- quoted names case-sensitively. Every column is aliased to its lowercase name.
    select
        -- ids
        "Rate_Card_ID" as rate_card_id,

        -- strings
        "Job_Profile" as role_code,
        "Company_ID" as legal_entity_code,
        "Currency" as currency_code,

        -- numerics
        "Standard_Bill_Rate" as standard_bill_rate,
        "Standard_Cost_Rate" as standard_cost_rate,

        -- dates
        "Effective_Date" as effective_date,

        -- timestamps
        "Last_Updated" as modified_at,

        -- load metadata
        {{ load_metadata() }}

    from source

)

select * from renamed
