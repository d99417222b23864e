"""Salesforce CRM: ingest assets for every crm object in the landing contract."""

from orchestration.lib.ingest_assets import build_system_definitions

defs = build_system_definitions("crm")
