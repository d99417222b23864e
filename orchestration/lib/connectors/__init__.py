"""API connectors: the five source systems through their vendors' APIs, landed with dlt, loaded like files."""
