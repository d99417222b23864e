-- Salesforce opportunities, soft-deleted ones included, as int_opportunities_flagged builds
-- them; the mart's enforced contract (_core__models.yml) names and types every column.
select * from {{ ref('int_opportunities_flagged') }}
