{% macro valuation_exception(
    reason_code='reason_code',
    reason_text='reason_text',
    affected_model='affected_model',
    record_type='record_type',
    record_id='record_id',
    source_system='source_system',
    source_object='source_object',
    source_id='cast(null as varchar)',
    project_id='project_id',
    currency_code='currency_code',
    hours='null',
    amount='null',
    exception_date='exception_date'
) -%}
    {#- The select list of one branch of the valuation-exceptions union (fct_valuation_exceptions,
        int_time_entries_unvalued): its thirteen columns, typed, in the order both models list
        them, so a union of branches is the model's row as it stands. Every argument is a SQL
        expression (quote a constant: "'fct_backlog'"). One call covers a group of reasons: a
        CTE lists them, one small select per reason with the columns that differ
        (reason_code, reason_text, ...) before `*`, and the call names what they share.
        Defaults: the column of the same name, except source_id, hours and amount, which are
        null. -#}
    -- ids
    {{ record_id }} as record_id,
    {{ source_id }} as source_id,
    {{ project_id }} as project_id,

    -- strings
    {{ reason_code }} as reason_code,
    {{ reason_text }} as reason_text,
    {{ affected_model }} as affected_model,
    {{ record_type }} as record_type,
    {{ source_system }} as source_system,
    {{ source_object }} as source_object,
    {{ currency_code }} as currency_code,

    -- numerics
    cast({{ hours }} as decimal(18, 2)) as hours,
    cast({{ amount }} as decimal(18, 2)) as amount,

    -- dates
    {{ exception_date }} as exception_date
{%- endmacro %}
