with

source as (

    select * from {{ source('raw_crm', 'account') }}

),

renamed as (

    -- Every column is aliased, some to their own name: unaliased, DuckDB would keep
    -- Salesforce's spelling (`Industry`) as the column name.
    select
        -- ids
        id as crm_account_id,

        -- strings
        name as account_name,
        type as account_type,
        industry as industry,
        billingcountry as billing_country_code,
        currencyisocode as currency_code,

        -- booleans
        coalesce(isdeleted, false) as is_deleted,

        -- timestamps
        createddate as created_at,
        systemmodstamp as modified_at,

        -- load metadata
        _loaded_at as loaded_at,
        _batch_id as batch_id

    from source

)

select * from renamed
