"""Failure injection for the local Anaplan server, shared with the other servers: `local_servers.common.faults`."""

from local_servers.common.faults import Fault, FaultError, FaultPlan, parse_fault

__all__ = ["Fault", "FaultError", "FaultPlan", "parse_fault"]
