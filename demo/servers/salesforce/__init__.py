"""A local Salesforce REST API (OAuth client credentials, describe, query/queryAll) serving the demo firm."""

from demo.servers.salesforce.server import start_server

__all__ = ["start_server"]
