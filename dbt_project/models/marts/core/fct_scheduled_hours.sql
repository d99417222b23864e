-- Certinia assignment schedules spread to days, as int_scheduled_hours_spread builds them;
-- the mart's enforced contract (_core__models.yml) names and types every column.
select * from {{ ref('int_scheduled_hours_spread') }}
