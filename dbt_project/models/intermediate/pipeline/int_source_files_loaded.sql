-- Every landing file the loader took in (ingest_meta.loaded_files, written by
-- orchestration/defs/ingest/loader.py), one row per file and load. A view over the log; the
-- pre-hook creates the table empty when nothing has been loaded yet.
{{ config(
    materialized='view',
    pre_hook="{{ create_pipeline_log_table('ingest_meta', 'loaded_files') }}",
) }}

with

loaded_files as (

    select * from {{ pipeline_log_relation('ingest_meta', 'loaded_files') }}

),

final as (

    select
        -- ids
        cast(batch_id as varchar) as batch_id,

        -- strings
        cast(table_name as varchar) as source_table,
        cast(source_file as varchar) as source_file,

        -- numerics
        cast(rows_read as bigint) as rows_read,
        cast(rows_inserted as bigint) as rows_inserted,
        cast(rows_updated as bigint) as rows_updated,

        -- timestamps
        cast(loaded_at as timestamp) as loaded_at

    from loaded_files

)

select * from final
