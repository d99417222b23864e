{% macro valuation_exception(
    reason_code,
    reason_text,
    affected_model,
    record_type,
    record_id,
    source,
    exception_date,
    source_id=none,
    project_id='project_id',
    currency_code='currency_code',
    hours=none,
    amount=none
) -%}
    {#- The select list of one branch of the valuation-exceptions union (fct_valuation_exceptions,
        int_time_entries_unvalued): the thirteen columns in the union's order, so every branch
        names only what is its own. affected_model and record_type are names, source is a
        (system, object) pair of names: they are quoted here. Every other argument is a SQL
        expression; source_id, hours and amount default to typed nulls, project_id and
        currency_code to the branch's own columns of that name. -#}
    {{ reason_code }} as reason_code,
    {{ reason_text }} as reason_text,
    '{{ affected_model }}' as affected_model,
    '{{ record_type }}' as record_type,
    {{ record_id }} as record_id,
    '{{ source[0] }}' as source_system,
    '{{ source[1] }}' as source_object,
    {{ source_id if source_id is not none else 'cast(null as varchar)' }} as source_id,
    {{ project_id }} as project_id,
    {{ currency_code }} as currency_code,
    {{ hours if hours is not none else 'cast(null as decimal(18, 2))' }} as hours,
    {{ amount if amount is not none else 'cast(null as decimal(18, 2))' }} as amount,
    {{ exception_date }} as exception_date
{%- endmacro %}
