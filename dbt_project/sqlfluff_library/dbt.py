"""dbt-core's cross-database macros as the models call them (`dbt.dateadd(...)`), for linting only.

sqlfluff's jinja templater has no dbt, so `{{ dbt.dateadd(...) }}` would be undefined. These
functions render what dbt-duckdb renders (the lint dialect is DuckDB), close enough for sqlfluff
to parse the model; dbt itself never imports this module.
"""


def date_trunc(datepart: str, date: str) -> str:
    return f"date_trunc('{datepart}', {date})"


def dateadd(datepart: str, interval: object, from_date_or_timestamp: str) -> str:
    return f"({from_date_or_timestamp} + cast({interval} as bigint) * interval '1 {datepart}')"


def datediff(first_date: str, second_date: str, datepart: str) -> str:
    return f"date_diff('{datepart}', cast({first_date} as timestamp), cast({second_date} as timestamp))"


def last_day(date: str, datepart: str) -> str:
    return f"cast({dateadd('day', -1, dateadd(datepart, 1, date_trunc(datepart, date)))} as date)"
