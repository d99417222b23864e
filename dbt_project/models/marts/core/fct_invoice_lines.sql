-- NetSuite invoice (CustInvc) and credit memo (CustCred) lines; payments are not revenue
-- documents and stay out. Credit memos are negated so lines add up to net billing.
with

transactions as (

    select * from {{ ref('stg_erp__transactions') }}

),

transaction_lines as (

    select * from {{ ref('stg_erp__transaction_lines') }}

),

subsidiaries as (

    select * from {{ ref('stg_erp__subsidiaries') }}

),

currencies as (

    select * from {{ ref('stg_erp__currencies') }}

),

fx_rates as (

    select * from {{ ref('dim_fx_rate') }}

),

invoice_lines as (

    select
        transaction_lines.transaction_line_id as invoice_line_id,
        transaction_lines.transaction_id,
        transaction_lines.applied_to_transaction_id,
        transactions.transaction_type,
        transactions.document_number,
        transactions.transaction_date,
        transactions.erp_customer_id,
        subsidiaries.legal_entity_code,
        coalesce(transaction_lines.project_id, transactions.project_id) as project_id,
        transaction_lines.milestone_id,
        transaction_lines.service_month_start_date,
        currencies.currency_code,
        transaction_lines.memo,
        transaction_lines.quantity,
        transaction_lines.unit_rate,
        case
            when transactions.transaction_type = 'CustCred'
                then -transaction_lines.line_amount
            else transaction_lines.line_amount
        end as signed_amount
    from transaction_lines
    inner join transactions
        on transaction_lines.transaction_id = transactions.transaction_id
    left outer join subsidiaries
        on transactions.subsidiary_id = subsidiaries.subsidiary_id
    left outer join currencies
        on transactions.currency_id = currencies.currency_id
    where transactions.transaction_type in ('CustInvc', 'CustCred')

),

final as (

    select
        -- ids
        invoice_lines.invoice_line_id,
        invoice_lines.transaction_id,
        invoice_lines.applied_to_transaction_id,
        invoice_lines.erp_customer_id,
        invoice_lines.project_id,
        invoice_lines.milestone_id,

        -- strings
        invoice_lines.transaction_type,
        invoice_lines.document_number,
        invoice_lines.legal_entity_code,
        invoice_lines.currency_code,
        cast({{ reporting_currency() }} as varchar) as reporting_currency_code,
        invoice_lines.memo as line_memo,

        -- numerics
        cast(invoice_lines.quantity as decimal(12, 2)) as quantity,
        cast(invoice_lines.unit_rate as decimal(18, 2)) as unit_rate,
        cast(invoice_lines.signed_amount as decimal(18, 2)) as signed_amount,
        fx_rates.average_rate as fx_average_rate,
        cast(invoice_lines.signed_amount * fx_rates.average_rate as decimal(18, 2))
            as amount_reporting,

        -- dates
        invoice_lines.transaction_date,
        invoice_lines.service_month_start_date

    from invoice_lines
    left outer join fx_rates
        on
            invoice_lines.currency_code = fx_rates.from_currency_code
            and date_trunc('month', invoice_lines.transaction_date)
            = fx_rates.month_start_date

)

select * from final
