"""Shared pieces of the local source-system servers: the demo-firm store, tokens, faults, admin endpoints."""
