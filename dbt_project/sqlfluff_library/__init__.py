"""Jinja globals for sqlfluff's jinja templater, which lints the models without dbt (see pyproject.toml).

sqlfluff puts each module here in the template context under its name: `dbt` stands in for
dbt-core's `dbt.` macro namespace.
"""
