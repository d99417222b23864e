-- The PSA project dimension, as int_projects_joined builds it; the mart's enforced contract
-- (_core__models.yml) names and types every column.
select * from {{ ref('int_projects_joined') }}
