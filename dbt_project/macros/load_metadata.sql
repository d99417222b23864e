{% macro load_metadata() -%}
    {#- The two columns the loader adds to every raw row, as every staging model exposes them:
        when the row's batch was loaded, and which batch (ingest_meta.loaded_files). -#}
    _loaded_at as loaded_at,
    _batch_id as batch_id
{%- endmacro %}
