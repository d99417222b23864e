-- One row per raw table of the landing contract and load time (`_loaded_at`, as staging
-- carries it): how many of the table's current rows that load wrote and the newest source
-- modified timestamp among them (null for objects without a modified cursor: FX rates and
-- Anaplan exports). An empty table gets one row with no load time and 0 rows, so every
-- source object is listed. The list of objects is macros/operations.sql
-- landing_source_objects(); the staging views are read directly, one union branch each.
-- A view: a telemetry mart built in any job (analytics_refresh builds marts.operations alone)
-- sees the raw tables as they are, not as of the last full build.
{{ config(materialized='view') }}

with

loads as (

    {% for system, object_name, staging_model, has_cursor in landing_source_objects() -%}
        select
            '{{ system }}' as source_system,
            '{{ object_name }}' as source_object,
            {{ 'true' if has_cursor else 'false' }} as has_modified_cursor,
            staged.loaded_at,
            count(*) as record_count,
            max({{ 'staged.modified_at' if has_cursor else 'cast(null as timestamp)' }})
                as newest_modified_at
        from {{ ref(staging_model) }} as staged
        group by staged.loaded_at

        union all

        select
            '{{ system }}' as source_system,
            '{{ object_name }}' as source_object,
            {{ 'true' if has_cursor else 'false' }} as has_modified_cursor,
            cast(null as timestamp) as loaded_at,
            0 as record_count,
            cast(null as timestamp) as newest_modified_at
        where not exists (select 1 from {{ ref(staging_model) }})

        {% if not loop.last -%}
            union all

        {% endif -%}
    {%- endfor %}
),

final as (

    select
        -- strings
        cast(source_system as varchar) as source_system,
        cast(source_object as varchar) as source_object,
        cast('raw_' || source_system || '.' || source_object as varchar) as source_table,

        -- numerics
        cast(record_count as bigint) as record_count,

        -- booleans
        has_modified_cursor,

        -- timestamps
        cast(loaded_at as timestamp) as loaded_at,
        cast(newest_modified_at as timestamp) as newest_modified_at

    from loads

)

select * from final
