"""Ingest from the source systems' APIs (INGEST_SOURCE=api): the same asset keys, groups and checks as the
file path, one multi-asset per system. Endpoints and credentials come from the environment (README,
Configuration); the optional tuning variables override the defaults of `ApiTuning`."""

import os

import dagster as dg

from ingest.contract import SYSTEMS
from orchestration.lib.connectors.assets import (
    AnaplanExportsApi,
    ApiTuning,
    NetSuiteApi,
    SalesforceApi,
    WorkdayApi,
    build_api_definitions,
)

_TUNING = {
    "lookback_seconds": ("API_LOOKBACK_SECONDS", float),
    "max_concurrency": ("API_MAX_CONCURRENCY", int),
    "max_attempts": ("API_MAX_ATTEMPTS", int),
    "max_retry_delay_seconds": ("API_MAX_RETRY_DELAY_SECONDS", float),
    "timeout_seconds": ("API_TIMEOUT_SECONDS", float),
}


def api_resources() -> dict[str, dg.ConfigurableResource]:
    tuning = {field: kind(os.environ[name]) for field, (name, kind) in _TUNING.items() if os.environ.get(name)}
    return {
        "api_tuning": ApiTuning(**tuning),
        "salesforce_api": SalesforceApi(
            login_url=dg.EnvVar("SALESFORCE_LOGIN_URL"),
            client_id=dg.EnvVar("SALESFORCE_CLIENT_ID"),
            client_secret=dg.EnvVar("SALESFORCE_CLIENT_SECRET"),
        ),
        "netsuite_api": NetSuiteApi(
            account_url=dg.EnvVar("NETSUITE_ACCOUNT_URL"),
            client_id=dg.EnvVar("NETSUITE_CLIENT_ID"),
            certificate_id=dg.EnvVar("NETSUITE_CERTIFICATE_ID"),
            private_key=dg.EnvVar("NETSUITE_PRIVATE_KEY"),
        ),
        "workday_api": WorkdayApi(
            base_url=dg.EnvVar("WORKDAY_BASE_URL"),
            tenant=dg.EnvVar("WORKDAY_TENANT"),
            report_owner=dg.EnvVar("WORKDAY_REPORT_OWNER"),
            client_id=dg.EnvVar("WORKDAY_CLIENT_ID"),
            client_secret=dg.EnvVar("WORKDAY_CLIENT_SECRET"),
            refresh_token=dg.EnvVar("WORKDAY_REFRESH_TOKEN"),
        ),
        "anaplan_exports_api": AnaplanExportsApi(
            api_url=dg.EnvVar("ANAPLAN_API_URL"),
            auth_url=dg.EnvVar("ANAPLAN_AUTH_URL"),
            workspace_id=dg.EnvVar("ANAPLAN_WORKSPACE_ID"),
            model_id=dg.EnvVar("ANAPLAN_MODEL_ID"),
            username=dg.EnvVar("ANAPLAN_USERNAME"),
            password=dg.EnvVar("ANAPLAN_PASSWORD"),
        ),
    }


defs = build_api_definitions(SYSTEMS, api_resources())
