with

source as (

    select * from {{ source('raw_erp', 'transaction') }}

),

renamed as (

    select
        -- ids
        id as transaction_id,
        entity as erp_customer_id,
        subsidiary as subsidiary_id,
        currency as currency_id,
        custbody_psa_project_id as project_id,

        -- strings
        tranid as document_number,
        type as transaction_type,
        status as transaction_status,
        memo,

        -- numerics
        foreigntotal as total_amount,
        exchangerate as exchange_rate,

        -- dates
        trandate as transaction_date,
        duedate as due_date,

        -- timestamps
        createddate as created_at,
        lastmodifieddate as modified_at,

        -- load metadata
        {{ load_metadata() }}

    from source

)

select * from renamed
