{#-
    Incremental builds of the time-entry chain (intraday runs), exact by construction:

    - int_time_entries_unpivoted: before the build, the (resource, project) pairs of every
      timecard loaded since the last build, in both its new and its previous version, go to a
      temp table and their rows are deleted; the model then rebuilds every live timecard of
      those pairs. Duplicate flags compare cards of one resource, project and week, so they are
      recomputed whole. Deleted cards, cards edited to zero hours and cards moved to another
      project leave nothing behind.
      The rows of other pairs that the as-of date moved past (either way) since their build get
      is_after_as_of_date and is_actual recomputed in place (and refreshed_at, so the pricing
      increment below sees them).
    - int_time_entries_valued: the timecards whose time entries were rebuilt since its last build,
      whose source row changed, whose assignment (bill rate) changed, or that have entries dated
      between the as-of date it was last priced at and today's, are deleted and priced again.

    marts.fct_time_entries is a plain table copied from int_time_entries_unpivoted on every run.
    Dimensions (projects, resources, rate cards) change with the nightly run, which builds with
    --full-refresh (run tag dbt/full_refresh), as do fixes to past as-of dates.
-#}

{% macro pair_key(relation_alias=none) -%}
    {%- set prefix = relation_alias ~ '.' if relation_alias else '' -%}
    coalesce({{ prefix }}resource_id, '') || '|' || coalesce({{ prefix }}project_id, '')
{%- endmacro %}


{% macro time_entries_prepare_increment() %}
    {% if is_incremental() %}
        drop table if exists time_entries__touched;
        create temporary table time_entries__touched as
        with watermark as (
            select coalesce(max(loaded_at), cast('1900-01-01' as timestamp)) as loaded_at
            from {{ this }}
        ),

        changed as (
            select timecards.timecard_id, timecards.resource_id, timecards.project_id
            from {{ ref('stg_psa__timecard_headers') }} as timecards
            where timecards.loaded_at > (select watermark.loaded_at from watermark)
        )

        select {{ pair_key('changed') }} as pair_key from changed
        union
        select {{ pair_key('previous') }}
        from {{ this }} as previous
        inner join changed on previous.timecard_id = changed.timecard_id;

        delete from {{ this }}
        where {{ pair_key() }} in (select touched.pair_key from time_entries__touched as touched);

        -- Rows of other pairs whose as-of flags no longer match this run's as-of date: the
        -- date moved past them since they were built (a later intraday run, or a past as-of
        -- date reproduced).

        update {{ this }}
        set
            is_after_as_of_date = entry_date > {{ as_of_date() }},
            is_actual = is_approved
            and not has_invalid_hours
            and not has_unknown_project
            and not is_duplicate
            and entry_date <= {{ as_of_date() }},
            refreshed_at = {{ run_started_at_timestamp() }}
        where is_after_as_of_date is distinct from (entry_date > {{ as_of_date() }});
    {% endif %}
{% endmacro %}


{% macro time_entries_in_touched_pairs() %}
    {%- if is_incremental() -%}
        and {{ pair_key() }} in (select touched.pair_key from time_entries__touched as touched)
    {%- endif -%}
{% endmacro %}


{% macro valued_entries_prepare_increment() %}
    {% if is_incremental() %}
        drop table if exists int_time_entries_valued__touched;
        create temporary table int_time_entries_valued__touched as
        with watermark as (
            select
                coalesce(max(refreshed_at), cast('1900-01-01' as timestamp)) as refreshed_at,
                coalesce(max(priced_as_of_date), cast('1900-01-01' as date)) as priced_as_of_date
            from {{ this }}
        )

        select entries.timecard_id
        from {{ ref('int_time_entries_unpivoted') }} as entries
        where
            entries.refreshed_at > (select watermark.refreshed_at from watermark)
            or (
                entries.entry_date > (select watermark.priced_as_of_date from watermark)
                and entries.entry_date <= {{ as_of_date() }}
            )
        union
        select timecards.timecard_id
        from {{ ref('stg_psa__timecard_headers') }} as timecards
        where timecards.loaded_at > (select watermark.refreshed_at from watermark)
        union
        select entries.timecard_id
        from {{ ref('int_time_entries_unpivoted') }} as entries
        inner join {{ ref('stg_psa__assignments') }} as assignments
            on entries.assignment_id = assignments.assignment_id
        where assignments.loaded_at > (select watermark.refreshed_at from watermark);

        delete from {{ this }}
        where timecard_id in (select touched.timecard_id from int_time_entries_valued__touched as touched);
    {% endif %}
{% endmacro %}


{% macro valued_entries_in_touched_timecards() %}
    {%- if is_incremental() -%}
        and timecard_id in (
            select touched.timecard_id from int_time_entries_valued__touched as touched
        )
    {%- endif -%}
{% endmacro %}


{% macro rebuilt_whole(model_name) -%}
    {#- A time-entry model's full_refresh config: true when the pipeline's dbt step names it in
        DBT_REBUILD_WHOLE (an input its increments do not follow changed: a rate card, a
        project, an FX rate; orchestration/defs/transform/changes.py), else none, so dbt's own
        --full-refresh decides. -#}
    {%- if env_var is defined and model_name in env_var('DBT_REBUILD_WHOLE', '').split(',') -%}
        {{ return(true) }}
    {%- endif -%}
    {{ return(none) }}
{%- endmacro %}
