"""Anaplan Integration API v2: the client the reverse sync writes forecast inputs with."""

from orchestration.lib.anaplan.client import (
    AnaplanClient,
    AnaplanError,
    AnaplanSettings,
    ImportResult,
    RejectedRow,
    parse_failure_dump,
)

__all__ = ["AnaplanClient", "AnaplanError", "AnaplanSettings", "ImportResult", "RejectedRow", "parse_failure_dump"]
