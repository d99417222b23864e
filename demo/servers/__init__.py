"""Local stand-ins for the external systems the pipeline talks to, for the demo and the tests.

Each server speaks only the protocol subset the pipeline uses, binds to 127.0.0.1, and keeps its
state in a file under data/ (or a test's tmp_path) so the round trip can be inspected afterwards.
They are test doubles, not products: no TLS, and their admin endpoints have no authentication.
"""
