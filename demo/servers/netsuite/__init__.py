"""A local NetSuite SuiteQL REST service (OAuth 2.0 M2M with a signed JWT, limit/offset paging), demo firm."""

from demo.servers.netsuite.server import demo_key_pair, start_server

__all__ = ["demo_key_pair", "start_server"]
