with

source as (

    select * from {{ source('raw_erp', 'transaction_line') }}

),

renamed as (

    select
        -- ids
        uniquekey as transaction_line_id,
        transaction as transaction_id,
        createdfrom as applied_to_transaction_id,
        custcol_psa_project_id as project_id,
        custcol_psa_milestone_id as milestone_id,

        -- strings
        memo,

        -- numerics
        linesequencenumber as line_number,
        quantity,
        rate as unit_rate,
        foreignamount as line_amount,

        -- dates
        custcol_service_date as service_month_start_date,

        -- timestamps
        linelastmodifieddate as modified_at,

        -- load metadata
        {{ load_metadata() }}

    from source

)

select * from renamed
