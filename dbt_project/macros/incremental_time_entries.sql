{#-
    Incremental builds of the time-entry chain (intraday runs), exact by construction:

    - int_time_entries_unpivoted: before the build, the timecards to rebuild go to a temp table
      and their rows are deleted; the model then rebuilds those of them that are live. They are
      every timecard loaded since the last build, and every card of the same resource, project
      and week as one of those, in its new version and in its previous one (its rows in the
      model bound the week it was in). Duplicate flags compare only cards of one resource,
      project and week, so they are recomputed whole, and no other card's flags can change.
      Deleted cards, cards edited to zero hours and cards moved to another project or week
      leave nothing behind.
      The rows of other cards that the as-of date moved past (either way) since their build get
      is_after_as_of_date and is_actual recomputed in place (and refreshed_at, so the increments
      below see them).
    - int_time_entries_valued: the timecards whose time entries were rebuilt since its last build,
      whose source row changed, whose assignment (bill rate) changed, or that have entries dated
      between the as-of date it was last priced at and today's, are deleted and priced again.
    - marts.fct_time_entries (the published copy of int_time_entries_unpivoted): the timecards
      with a row rebuilt or updated since its last build, or whose source row changed, are
      deleted and copied again.

    Dimensions (projects, resources, rate cards) change with the nightly run, which builds with
    --full-refresh (run tag dbt/full_refresh), as do fixes to past as-of dates; any other run
    builds these models whole when such an input changed (DBT_REBUILD_WHOLE, rebuilt_whole below).
-#}

{% macro same_resource_and_project(left, right) -%}
    {#- Null-safe, and an equality a hash join can use (on PostgreSQL too). -#}
    coalesce({{ left }}.resource_id, '') = coalesce({{ right }}.resource_id, '')
    and coalesce({{ left }}.project_id, '') = coalesce({{ right }}.project_id, '')
{%- endmacro %}


{% macro time_entries_prepare_increment() %}
    {% if is_incremental() %}
        drop table if exists time_entries__touched;
        create temporary table time_entries__touched as
        with watermark as (
            select coalesce(max(loaded_at), cast('1900-01-01' as timestamp)) as loaded_at
            from {{ this }}
        ),

        timecards as (
            select timecard_id, resource_id, project_id, week_start_date, loaded_at
            from {{ ref('stg_psa__timecard_headers') }}
        ),

        changed as (
            select timecards.*
            from timecards
            where timecards.loaded_at > (select watermark.loaded_at from watermark)
        ),

        -- A changed card's previous version: its rows lie in its week, so the week started
        -- at most six days before the last of them and at the latest on the first.
        previous as (
            select
                entries.resource_id,
                entries.project_id,
                max(entries.entry_date) - 6 as earliest_week_start_date,
                min(entries.entry_date) as latest_week_start_date
            from {{ this }} as entries
            inner join changed on entries.timecard_id = changed.timecard_id
            group by entries.timecard_id, entries.resource_id, entries.project_id
        )

        select changed.timecard_id from changed
        union
        select timecards.timecard_id
        from timecards
        inner join changed
            on
                {{ same_resource_and_project('timecards', 'changed') }}
                and timecards.week_start_date is not distinct from changed.week_start_date
        union
        select timecards.timecard_id
        from timecards
        inner join previous
            on
                {{ same_resource_and_project('timecards', 'previous') }}
                and timecards.week_start_date
                between previous.earliest_week_start_date and previous.latest_week_start_date;

        {{ delete_touched_timecards('time_entries__touched') }};

        -- Rows of other cards whose as-of flags no longer match this run's as-of date: the
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


{% macro in_touched_timecards(touched, keyword='and') %}
    {#- In an increment, the model's filter to the timecards its pre-hook put in temp table
        `touched` (`keyword`: 'and' after a where clause, 'where' without one). -#}
    {%- if is_incremental() -%}
        {{ keyword }} timecard_id in (select touched.timecard_id from {{ touched }} as touched)
    {%- endif -%}
{% endmacro %}


{% macro delete_touched_timecards(touched) -%}
    {#- The pre-hook's delete of the rows of the timecards in temp table `touched`. -#}
    delete from {{ this }}
    where timecard_id in (select touched.timecard_id from {{ touched }} as touched)
{%- endmacro %}


{% macro timecards_changed_since(since, also_entries_where=none) -%}
    {#- The timecards with a row of int_time_entries_unpivoted rebuilt or updated after `since`
        (a SQL timestamp), or whose source row was loaded after it (a deleted or zeroed card has
        no rows left there); with `also_entries_where`, those with an entry meeting it too. -#}
    {%- set also = ' or (' ~ also_entries_where ~ ')' if also_entries_where else '' %}
    select entries.timecard_id
    from {{ ref('int_time_entries_unpivoted') }} as entries
    where entries.refreshed_at > {{ since }}{{ also }}
    union
    select timecards.timecard_id
    from {{ ref('stg_psa__timecard_headers') }} as timecards
    where timecards.loaded_at > {{ since }}
{%- endmacro %}


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

        {{ timecards_changed_since(
            '(select watermark.refreshed_at from watermark)',
            also_entries_where='entries.entry_date > (select watermark.priced_as_of_date from watermark)'
            ~ ' and entries.entry_date <= ' ~ as_of_date(),
        ) }}
        union
        select entries.timecard_id
        from {{ ref('int_time_entries_unpivoted') }} as entries
        inner join {{ ref('stg_psa__assignments') }} as assignments
            on entries.assignment_id = assignments.assignment_id
        where assignments.loaded_at > (select watermark.refreshed_at from watermark);

        {{ delete_touched_timecards('int_time_entries_valued__touched') }};
    {% endif %}
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


{% macro published_entries_prepare_increment() %}
    {% if is_incremental() %}
        drop table if exists fct_time_entries__touched;
        create temporary table fct_time_entries__touched as
        with watermark as (
            select coalesce(max(refreshed_at), cast('1900-01-01' as timestamp)) as refreshed_at
            from {{ this }}
        )

        {{ timecards_changed_since('(select watermark.refreshed_at from watermark)') }};

        {{ delete_touched_timecards('fct_time_entries__touched') }};
    {% endif %}
{% endmacro %}
