-- Bill-rate side of the HRIS rate card as validity intervals, as int_rate_card_bill_rates
-- builds it; the mart's enforced contract (_core__models.yml) names and types every column.
-- The standard cost rate of the same lines is in restricted.int_rate_card_cost_rates.
select * from {{ ref('int_rate_card_bill_rates') }}
