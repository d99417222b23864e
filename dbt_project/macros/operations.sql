{#- Macros of the operational marts (models/marts/operations). The pipeline's own log tables,
    read by the telemetry marts, are written by Python, not landed from a source system, so
    they are not dbt sources: the house rule (and tests/test_dbt_project.py) keeps `source()`
    for the landing contract's objects only. -#}

{% macro create_pipeline_log_table(schema_name, table_name) -%}
    {#- Pre-hook of the model that reads a log table: creates it empty when missing, so a
        build on a fresh warehouse (before any ingest or sync ran) reads an empty table
        instead of failing. The columns are exactly those of orchestration/defs/ingest/loader.py
        (LOADED_FILES) and orchestration/defs/reverse_sync/state.py (DDL), in their order, since
        both insert by position; the loader adds its later columns itself (`add column if
        not exists`). Portable DDL: `double precision` is DuckDB's DOUBLE. -#}
    {%- set columns = {
        'ingest_meta.loaded_files': [
            'table_name varchar', 'source_file varchar', 'file_size bigint',
            'file_mtime double precision', 'batch_id varchar', 'rows_read bigint',
            'rows_inserted bigint', 'rows_updated bigint', 'loaded_at timestamp',
        ],
        'reverse_sync.sync_runs': [
            'run_id varchar', 'sync_name varchar', 'started_at timestamp',
            'finished_at timestamp', 'status varchar', 'rows_created integer',
            'rows_updated integer', 'rows_deleted integer', 'rows_rejected integer',
            'rows_invalid integer', 'failing_checks varchar', 'message varchar',
            'target varchar',
        ],
    }[schema_name ~ '.' ~ table_name] -%}
    {%- if execute -%}
        {%- do adapter.create_schema(
            api.Relation.create(database=target.database, schema=schema_name)
        ) -%}
    {%- endif -%}
    create table if not exists {{ pipeline_log_relation(schema_name, table_name) }} (
        {{ columns | join(', ') }}
    )
{%- endmacro %}

{% macro pipeline_log_relation(schema_name, table_name) -%}
    {#- A pipeline log table as a relation of the target database (the DuckDB catalog named
        after the file, like every other relation dbt writes). -#}
    {%- if api is defined -%}
        {{ return(api.Relation.create(
            database=target.database, schema=schema_name, identifier=table_name
        )) }}
    {%- else -%}
        {#- sqlfluff's templater has no `api`: the bare name parses the same. -#}
        {{ return(schema_name ~ '.' ~ table_name) }}
    {%- endif -%}
{%- endmacro %}

{% macro hours_between(start_timestamp, end_timestamp) -%}
    {#- end − start in hours, to the hundredth, as DECIMAL(12,2); negative when end is
        earlier. `extract(epoch from interval)` reads the same in DuckDB and PostgreSQL. -#}
    cast(
        round(
            cast(
                extract(epoch from ({{ end_timestamp }} - {{ start_timestamp }})) / 3600.0
                as decimal(18, 4)
            ),
            2
        ) as decimal(12, 2)
    )
{%- endmacro %}

{% macro landing_source_objects() -%}
    {#- The landing contract's source objects (orchestration/contract/__init__.py
        SOURCE_OBJECTS, in its order) as (system, raw object, staging model, has a modified
        cursor) tuples.
        tests/test_operations_marts.py checks the list against the contract. -#}
    {{ return([
        ('crm', 'account', 'stg_crm__accounts', true),
        ('crm', 'opportunity', 'stg_crm__opportunities', true),
        ('psa', 'contact', 'stg_psa__contacts', true),
        ('psa', 'project', 'stg_psa__projects', true),
        ('psa', 'assignment', 'stg_psa__assignments', true),
        ('psa', 'schedule', 'stg_psa__schedules', true),
        ('psa', 'timecard_header', 'stg_psa__timecard_headers', true),
        ('psa', 'milestone', 'stg_psa__milestones', true),
        ('erp', 'subsidiary', 'stg_erp__subsidiaries', true),
        ('erp', 'currency', 'stg_erp__currencies', true),
        ('erp', 'accounting_period', 'stg_erp__accounting_periods', true),
        ('erp', 'consolidated_exchange_rate', 'stg_erp__consolidated_exchange_rates', false),
        ('erp', 'customer', 'stg_erp__customers', true),
        ('erp', 'transaction', 'stg_erp__transactions', true),
        ('erp', 'transaction_line', 'stg_erp__transaction_lines', true),
        ('hris', 'worker', 'stg_hris__workers', true),
        ('hris', 'rate_card', 'stg_hris__rate_cards', true),
        ('hris', 'worker_cost_rate', 'stg_hris__worker_cost_rates', true),
        ('hris', 'time_off', 'stg_hris__time_off_entries', true),
        ('hris', 'holiday', 'stg_hris__holidays', true),
        ('planning', 'plan_version', 'stg_planning__plan_versions', false),
        ('planning', 'target', 'stg_planning__targets', false)
    ]) }}
{%- endmacro %}

{% macro days_distribution(days_column) -%}
    {#- Aggregates of a column of day counts (nulls ignored): how many are on time (within
        var billing_due_days), the average, median and 90th percentile (percentile_cont,
        linear interpolation, as DuckDB and PostgreSQL both compute it) and the maximum. -#}
    count(*) filter (
        where {{ days_column }} <= {{ var('billing_due_days') | int }}
    ) as on_time_count,
    avg({{ days_column }}) as average_days,
    percentile_cont(0.5) within group (order by {{ days_column }}) as median_days,
    percentile_cont(0.9) within group (order by {{ days_column }}) as p90_days,
    max({{ days_column }}) as max_days
{%- endmacro %}

{% macro days_distribution_columns(aggregates, measured_count, on_time_prefix, days_prefix) -%}
    {#- The select-list columns a mart publishes of the days_distribution() aggregates of the
        joined relation `aggregates` (null where it has no row): <on_time_prefix>_on_time_count
        (0 then), <on_time_prefix>_on_time_share (of the count column measured_count, to 4
        decimals; null when it is 0) and <days_prefix>_average_days, _median_days, _p90_days
        (DECIMAL(9,2)) and _max_days (INTEGER). -#}
    cast(coalesce({{ aggregates }}.on_time_count, 0) as integer)
        as {{ on_time_prefix }}_on_time_count,
    cast(
        round(
            cast({{ aggregates }}.on_time_count as decimal(18, 6))
            / nullif({{ aggregates }}.{{ measured_count }}, 0),
            4
        ) as decimal(7, 4)
    ) as {{ on_time_prefix }}_on_time_share,
    cast({{ aggregates }}.average_days as decimal(9, 2)) as {{ days_prefix }}_average_days,
    cast({{ aggregates }}.median_days as decimal(9, 2)) as {{ days_prefix }}_median_days,
    cast({{ aggregates }}.p90_days as decimal(9, 2)) as {{ days_prefix }}_p90_days,
    cast({{ aggregates }}.max_days as integer) as {{ days_prefix }}_max_days
{%- endmacro %}
