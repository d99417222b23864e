-- Certinia timecards, one row per timecard and day with hours <> 0, every status kept and
-- defects flagged, as int_time_entries_unpivoted builds them (incrementally, intraday); the
-- mart's enforced contract (_core__models.yml) names and types every column. A plain table,
-- copied from it whole on every run.
select * from {{ ref('int_time_entries_unpivoted') }}
