{% macro project_month_columns() -%}
    {#- The leading columns of every project-month mart (fct_project_margin, fct_backlog,
        fct_reconciliation_psa_erp, fct_revenue_leakage): the key, the project's attributes
        and the currency its *_reporting amounts are in. The model's last CTE carries the
        columns of the same names. -#}
    -- ids
    project_id,
    month_start_date,

    -- strings
    legal_entity_code,
    practice,
    billing_type,
    currency_code,
    cast({{ reporting_currency() }} as varchar) as reporting_currency_code
{%- endmacro %}
