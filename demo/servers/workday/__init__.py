"""A local Workday RaaS (OAuth refresh-token grant, JSON reports with update prompts, XSD) serving the demo firm."""

from demo.servers.workday.server import start_server

__all__ = ["start_server"]
