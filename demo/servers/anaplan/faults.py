"""Failure injection for the local Anaplan server, shared with the other servers: `demo.servers.common.faults`."""

from demo.servers.common.faults import Fault, FaultError, FaultPlan, parse_fault

__all__ = ["Fault", "FaultError", "FaultPlan", "parse_fault"]
