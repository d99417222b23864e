"""A local Anaplan (Integration API v2 subset) for the demo and the tests.

`start_server(db_path)` runs it in-process; `python -m demo.servers.anaplan` runs it as a
process. `read_cells(db_path)` reads back what the imports stored. See `server.py` for the
endpoints, `module.py` for the import semantics and `faults.py` for failure injection.
"""

from demo.servers.anaplan.module import COLUMNS, KEY_COLUMNS, LINE_COLUMN, LINE_ITEMS, read_cells, read_imports
from demo.servers.anaplan.server import RunningServer, start_server

__all__ = [
    "COLUMNS",
    "KEY_COLUMNS",
    "LINE_COLUMN",
    "LINE_ITEMS",
    "RunningServer",
    "read_cells",
    "read_imports",
    "start_server",
]
