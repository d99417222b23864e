-- Certinia timecards, one row per timecard and day with hours <> 0, every status kept and
-- defects flagged, as int_time_entries_unpivoted builds them; the mart's enforced contract
-- (_core__models.yml) names and types every column.
-- Incremental (intraday): the timecards int_time_entries_unpivoted rebuilt or updated since
-- this mart's last build, and those whose source row changed (deleted, zeroed or moved cards
-- leave no rows there), are deleted here and copied again; see
-- macros/incremental_time_entries.sql. The nightly run copies it whole.
-- meta incremental_inputs: those of int_time_entries_unpivoted, the model it copies.
-- meta patch_key: the publish replaces the readers' rows of the timecards this mart stamped
-- (refreshed_at, its build stamp) since their copy, instead of copying the mart whole
-- (orchestration/defs/publish/snapshot.py).
{{
    config(
        materialized='incremental',
        meta={
            'incremental_inputs': ['raw_psa.timecard_header', 'as_of_date'],
            'patch_key': 'timecard_id',
        },
        full_refresh=rebuilt_whole('fct_time_entries'),
        incremental_strategy='append',
        on_schema_change='append_new_columns',
        pre_hook="{{ published_entries_prepare_increment() }}",
    )
}}
-- depends_on: {{ ref('stg_psa__timecard_headers') }} (read by the incremental pre-hook)

select * from {{ ref('int_time_entries_unpivoted') }}
{{ in_touched_timecards('fct_time_entries__touched', 'where') }}
