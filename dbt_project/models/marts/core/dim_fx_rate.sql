-- Monthly rates into the reporting currency, as int_fx_rates_rebased derives them from
-- NetSuite's consolidated exchange rates; the mart's enforced contract (_core__models.yml)
-- names and types every column. A currency with no ERP rate for a month has no row for that
-- month.
select * from {{ ref('int_fx_rates_rebased') }}
