-- Rate-card standard bill rates (per role and legal entity) as validity intervals: each
-- line applies from its effective date until the next line's for the same role and entity
-- (exclusive), the last one open (macros/rate_card_intervals.sql). Published as
-- marts.dim_rate_card; the standard cost rate of the same lines is in
-- restricted.int_rate_card_cost_rates.
select
    {{ rate_card_intervals('standard_bill_rate') }}
from {{ ref('stg_hris__rate_cards') }}
