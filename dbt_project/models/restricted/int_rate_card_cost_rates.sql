-- Rate-card standard cost rates (per role and legal entity) as validity intervals: each
-- line applies from its effective date until the next line's for the same role and entity
-- (exclusive), the last one open (macros/rate_card_intervals.sql). The bill-rate side of
-- the same lines is int_rate_card_bill_rates (marts.dim_rate_card); cost rates stay here,
-- in the restricted schema.
select
    {{ rate_card_intervals('standard_cost_rate') }}
from {{ ref('stg_hris__rate_cards') }}
