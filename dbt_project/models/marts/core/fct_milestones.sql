-- Certinia milestones (non-deleted) with their completion, as int_milestones_flagged
-- builds them; the mart's enforced contract (_core__models.yml) names and types every column.
select * from {{ ref('int_milestones_flagged') }}
