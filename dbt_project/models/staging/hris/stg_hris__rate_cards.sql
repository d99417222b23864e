with

source as (

    select * from {{ source('raw_hris', 'rate_card') }}

),

renamed as (

    -- Every column is aliased, some to their own name: unaliased, DuckDB would keep
    -- Workday's spelling (`Worker_ID`) as the column name.
    select
        -- ids
        rate_card_id as rate_card_id,

        -- strings
        job_profile as role_code,
        company_id as legal_entity_code,
        currency as currency_code,

        -- numerics
        standard_bill_rate as standard_bill_rate,
        standard_cost_rate as standard_cost_rate,

        -- dates
        effective_date as effective_date,

        -- timestamps
        last_updated as modified_at,

        -- load metadata
        _loaded_at as loaded_at,
        _batch_id as batch_id

    from source

)

select * from renamed
