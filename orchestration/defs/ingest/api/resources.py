"""The API connectors' resources from the environment (endpoints, credentials, tuning) and their definitions."""

import dagster as dg

from orchestration.contract import SYSTEMS
from orchestration.defs.ingest.api.assets import (
    ApiTuning,
    NetSuiteApi,
    SalesforceApi,
    WorkdayApi,
    build_api_definitions,
)
from orchestration.defs.reverse_sync.anaplan import ANAPLAN
from orchestration.lib import settings


def api_resources() -> dict[str, dg.ConfigurableResource]:
    return {
        "api_tuning": ApiTuning(**settings.api_tuning()),
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
        "anaplan": ANAPLAN,  # the same resource as the reverse sync's: one reading of the ANAPLAN_* variables
    }


def api_definitions() -> dg.Definitions:
    """Every system's API assets with their resources."""
    return build_api_definitions(SYSTEMS, api_resources())
