with

source as (

    select * from {{ source('raw_crm', 'opportunity') }}

),

renamed as (

    -- Every column is aliased, some to their own name: unaliased, DuckDB would keep
    -- Salesforce's spelling (`Amount`) as the column name.
    select
        -- ids
        id as crm_opportunity_id,
        accountid as crm_account_id,

        -- strings
        name as opportunity_name,
        stagename as opportunity_stage,
        type as opportunity_type,
        practice__c as practice,
        legal_entity__c as legal_entity_code,
        currencyisocode as currency_code,

        -- numerics
        amount as amount,
        probability as probability_percent,
        delivery_months__c as delivery_months,

        -- booleans
        isclosed as is_closed,
        iswon as is_won,
        coalesce(isdeleted, false) as is_deleted,

        -- dates
        closedate as close_date,

        -- timestamps
        createddate as created_at,
        systemmodstamp as modified_at,

        -- load metadata
        _loaded_at as loaded_at,
        _batch_id as batch_id

    from source

)

select * from renamed
