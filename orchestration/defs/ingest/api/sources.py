"""The four connectors as dlt resources: how each vendor's API is paged, filtered and discovered.

Every resource is named for its contract object, merges on the contract's primary key and reads
the modified-timestamp cursor incrementally (dlt state, kept in the warehouse) with a lookback
window (`lag`). Contract fields land as text, exactly as the API sent them: the contract's cast
in `load_relation` types them, so money and hours never pass through a float.

- Salesforce (CRM and Certinia PSA): `describe` lists the fields; SOQL through `queryAll` (soft
  deletes arrive with `IsDeleted`), pages followed by `nextRecordsUrl`. The SOQL travels in the
  GET URL, and Salesforce refuses a URI over 16,384 bytes (414; 431 with the headers): the query
  selects every contract field, then the object's other fields while the URL stays within
  `SOQL_URI_BUDGET`; the fields left out are reported, never silently dropped.
- NetSuite: SuiteQL `SELECT *` paged by `limit`/`offset` until `hasMore` is false; a probe
  query with the contract's fields finds removed ones; `DeletedRecord` lists deletions.
- Workday: RaaS JSON reports, paged by windows of the `Updated_From`/`Updated_Through` prompts;
  the report's XSD lists its fields.
- Anaplan: export actions through the reverse sync's Anaplan client (run the task, poll, list and
  download the chunks); the export's metadata lists its columns; an export identical to the last one
  loads nothing.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote_plus

import dlt
import requests
from dlt.common.time import ensure_pendulum_datetime
from dlt.sources.helpers.rest_client.paginators import BasePaginator, JSONLinkPaginator, OffsetPaginator
from dlt.sources.rest_api import rest_api_resources

from orchestration.contract import SourceObject
from orchestration.defs.ingest.api.drift import family
from orchestration.defs.reverse_sync.anaplan import AnaplanClient
from orchestration.lib.http import ConnectorError, NetSuiteAuth, SalesforceAuth, WorkdayAuth, request_error

INITIAL = datetime(2000, 1, 1)  # before any record: the first run reads everything


@dataclass
class Discovery:
    """What the source says about one object: field -> type family; None where it cannot tell types.

    `not_landed`: source fields the extract leaves out (Salesforce: over the URI limit), set by `resources`."""

    fields: dict[str, str]
    not_landed: tuple[str, ...] = ()


def contract_columns(obj: SourceObject, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """dlt column hints: contract fields as nullable text; protocol wrappers kept whole as JSON."""
    columns: dict[str, Any] = {f.name: {"data_type": "text", "nullable": True} for f in obj.fields}
    return {**columns, **(extra or {})}


def _resource_hints(obj: SourceObject, lag: float, convert, initial: str) -> dict[str, Any]:
    hints: dict[str, Any] = {
        "name": obj.name,
        "table_name": obj.name,
        "primary_key": list(obj.primary_key),
        "write_disposition": "merge",
    }
    if obj.cursor:
        hints["endpoint"] = {
            "incremental": {"cursor_path": obj.cursor, "initial_value": initial, "lag": lag, "convert": convert}
        }
    return hints


# --- Salesforce -------------------------------------------------------------------------------------------------
_SF_FAMILIES = {"boolean": "boolean", "date": "date", "datetime": "datetime"}
_SF_NUMBERS = ("currency", "double", "percent", "int", "long")
# Salesforce refuses a request whose URI passes 16,384 bytes (414 URI Too Long) or whose URI and
# headers together do (431). The query URL is kept to this much, leaving 2 KiB for our headers
# (Authorization, Sforce-Query-Options, User-Agent, ...: a few hundred bytes).
SALESFORCE_URI_LIMIT = 16_384
SOQL_URI_BUDGET = SALESFORCE_URI_LIMIT - 2_048
_SOQL_LITERAL_SAMPLE = "2000-01-01T00:00:00Z"  # what `_soql_datetime` puts in place of the cursor placeholder


class SalesforceConnector:
    protocol_fields = ("attributes",)

    def __init__(self, auth: SalesforceAuth, api_version: str, batch_size: int) -> None:
        self.auth, self.session, self.batch_size = auth, auth.session, batch_size
        self.version = api_version if api_version.startswith("v") else f"v{api_version}"

    def _base(self) -> str:
        self.auth.token()  # the instance URL comes with the token
        return f"{self.auth.instance_url}/services/data/{self.version}"

    def discover(self, obj: SourceObject) -> Discovery:
        response = self.session.get(f"{self._base()}/sobjects/{obj.file_stem}/describe", auth=self.auth)
        _raise(response, f"describe {obj.file_stem}")
        fields = {f["name"]: _sf_family(f["type"]) for f in response.json()["fields"]}
        return Discovery(fields)

    def _soql(self, obj: SourceObject, names: list[str], start: str = "{incremental.start_value}") -> str:
        return (
            f"SELECT {', '.join(names)} FROM {obj.file_stem} WHERE {obj.cursor} >= {start} "
            f"ORDER BY {obj.cursor} ASC, Id ASC"
        )

    def select_fields(self, obj: SourceObject, source_fields: list[str]) -> tuple[list[str], list[str]]:
        """(fields the query selects, fields left out): every contract field, then the others in describe's
        order while the query URL stays within SOQL_URI_BUDGET bytes. The raw table takes contract fields
        only; the others are landed for inspection and reported (`new_source_fields`) from describe anyway."""
        contract = [f for f in source_fields if f in obj.field_names]
        url = f"{self._base()}/queryAll?" + f"q={quote_plus(self._soql(obj, contract, _SOQL_LITERAL_SAMPLE))}"
        size = len(url.encode())
        if size > SOQL_URI_BUDGET:
            raise ConnectorError(
                f"the query of {obj.file_stem}'s {len(contract)} contract fields needs a {size}-byte URI, over the "
                f"{SOQL_URI_BUDGET} bytes kept within Salesforce's {SALESFORCE_URI_LIMIT}-byte limit"
            )
        selected, left_out = list(contract), []
        for name in (f for f in source_fields if f not in obj.field_names):
            extra = len(quote_plus(f", {name}").encode())
            if size + extra <= SOQL_URI_BUDGET:
                selected.append(name)
                size += extra
            else:
                left_out.append(name)
        return selected, left_out

    def resources(self, objects: list[SourceObject], found: dict[str, Discovery], lag: float) -> list[Any]:
        configs = []
        for obj in objects:
            names, left_out = self.select_fields(obj, list(found[obj.name].fields))
            found[obj.name].not_landed = tuple(left_out)
            soql = self._soql(obj, names)
            hints = _resource_hints(obj, lag, _soql_datetime, "2000-01-01T00:00:00.000+0000")
            hints["columns"] = contract_columns(obj, {"attributes": {"data_type": "json"}})
            hints["endpoint"] = {
                **hints["endpoint"],
                "path": f"{self._base()}/queryAll",
                "params": {"q": soql},
                "headers": {"Sforce-Query-Options": f"batchSize={self.batch_size}"},
                "data_selector": "records",
                "paginator": JSONLinkPaginator(next_url_path="nextRecordsUrl"),
            }
            configs.append(hints)
        client = {"base_url": self.auth.instance_url, "session": self.session}
        return rest_api_resources({"client": client, "resources": configs})  # type: ignore[typeddict-item]


def _sf_family(sf_type: str) -> str:
    return "number" if sf_type in _SF_NUMBERS else _SF_FAMILIES.get(sf_type, "text")


def _soql_datetime(value: Any) -> str:
    """A SOQL datetime literal (UTC, whole seconds) for the cursor's lower bound."""
    return ensure_pendulum_datetime(value).in_timezone("UTC").strftime("%Y-%m-%dT%H:%M:%SZ")


# --- NetSuite ---------------------------------------------------------------------------------------------------
SUITEQL = "/services/rest/query/v1/suiteql"
_MISSING_FIELD = re.compile(r"Field '(\w+)' for record")


class NetSuiteConnector:
    protocol_fields = ("links", "_cursor")

    def __init__(self, auth: NetSuiteAuth, page_size: int) -> None:
        self.auth, self.session, self.page_size = auth, auth.session, page_size
        self.base = auth.account_url

    def _query(self, suiteql: str, limit: int = 1) -> requests.Response:
        return self.session.post(
            f"{self.base}{SUITEQL}?limit={limit}&offset=0",
            json={"q": suiteql},
            headers={"Prefer": "transient"},
            auth=self.auth,
        )

    def discover(self, obj: SourceObject) -> Discovery:
        """Probe the contract's fields (SuiteQL has no catalogue): a removed one is the query's error."""
        present = list(obj.field_names)
        for _ in range(len(present)):
            response = self._query(f"SELECT {', '.join(present)} FROM {obj.file_stem} WHERE 1 = 0")
            missing = _MISSING_FIELD.search(response.text) if response.status_code == 400 else None
            if not missing:
                _raise(response, f"probe {obj.file_stem}")
                break
            present.remove(missing[1])
        types = {f.name: family(f.type) for f in obj.fields}
        return Discovery({name: types[name] for name in present})

    def resources(self, objects: list[SourceObject], found: dict[str, Discovery], lag: float) -> list[Any]:
        configs = []
        for obj in objects:
            keys = ", ".join(obj.primary_key)
            if obj.cursor:
                where = f"WHERE {obj.cursor} >= TO_TIMESTAMP('{{incremental.start_value}}', 'YYYY-MM-DD HH24:MI:SS')"
                suiteql = f"SELECT * FROM {obj.file_stem} {where} ORDER BY {obj.cursor}, {keys}"
            else:
                suiteql = f"SELECT * FROM {obj.file_stem} ORDER BY {keys}"
            hints = _resource_hints(obj, lag, _suiteql_datetime, INITIAL.isoformat())
            if obj.cursor:  # dlt's lookback reads ISO datetimes; NetSuite prints `2025-01-31 09:00:00`
                hints["endpoint"]["incremental"]["cursor_path"] = "_cursor"
                hints["processing_steps"] = [{"map": _iso_cursor(obj.cursor)}]
            hints["columns"] = contract_columns(obj, {"links": {"data_type": "json"}})
            hints["endpoint"] = {
                **hints.get("endpoint", {}),
                "path": SUITEQL,
                "method": "POST",
                "json": {"q": suiteql},
                "headers": {"Prefer": "transient"},
                "data_selector": "items",
                "paginator": OffsetPaginator(limit=self.page_size, total_path=None, has_more_path="hasMore"),
            }
            configs.append(hints)
        configs.append(self._deletions(lag))
        client = {"base_url": self.base, "session": self.session}
        return rest_api_resources({"client": client, "resources": configs})  # type: ignore[typeddict-item]

    def _deletions(self, lag: float) -> dict[str, Any]:
        """NetSuite's DeletedRecord: what was deleted since the last run (flagged in the landing tables)."""
        where = "WHERE deleteddate >= TO_TIMESTAMP('{incremental.start_value}', 'YYYY-MM-DD HH24:MI:SS')"
        return {
            "name": "deleted_record",
            "primary_key": ["recordtype", "recordid"],
            "write_disposition": "merge",
            "columns": {"recordid": {"data_type": "text"}, "links": {"data_type": "json"}},
            "processing_steps": [{"map": _iso_cursor("deleteddate")}],
            "endpoint": {
                "path": SUITEQL,
                "method": "POST",
                "json": {
                    "q": f"SELECT recordid, recordtype, deleteddate FROM DeletedRecord {where} ORDER BY deleteddate"
                },
                "headers": {"Prefer": "transient"},
                "data_selector": "items",
                "paginator": OffsetPaginator(limit=self.page_size, total_path=None, has_more_path="hasMore"),
                "incremental": {
                    "cursor_path": "_cursor",
                    "initial_value": INITIAL.isoformat(),
                    "lag": lag,
                    "convert": _suiteql_datetime,
                },
            },
        }


def _iso_cursor(field_name: str):
    def add(item: dict[str, Any]) -> dict[str, Any]:
        value = item.get(field_name)
        item["_cursor"] = value.replace(" ", "T") if isinstance(value, str) else value
        return item

    return add


def _suiteql_datetime(value: Any) -> str:
    return ensure_pendulum_datetime(value).strftime("%Y-%m-%d %H:%M:%S")


# --- Workday ----------------------------------------------------------------------------------------------------
_XSD_FIELD = re.compile(r'<xsd:element name="(\w+)" type="xsd:(\w+)"')
_XSD_FAMILIES = {"decimal": "number", "integer": "number", "double": "number", "boolean": "boolean"}
_XSD_FAMILIES |= {"date": "date", "dateTime": "datetime"}


class UpdateWindowPaginator(BasePaginator):
    """RaaS has no paging: read the report in windows of its `Updated_From`/`Updated_Through` prompts.

    Windows start at the cursor and are `window` long; the last one has no upper bound, so records
    stamped later than this client's clock are still read.
    """

    def __init__(self, window: timedelta) -> None:
        super().__init__()
        self.window = window
        self._start: datetime | None = None
        self._last = False

    def init_request(self, request: requests.Request) -> None:
        self._start = ensure_pendulum_datetime(request.params["Updated_From"]).naive()
        self._set(request)

    def update_state(self, response: requests.Response, data: list[Any] | None = None) -> None:
        self._has_next_page = not self._last
        if not self._last:
            self._start = self._start + self.window  # type: ignore[operator]

    def update_request(self, request: requests.Request) -> None:
        self._set(request)

    def _set(self, request: requests.Request) -> None:
        end = self._start + self.window  # type: ignore[operator]
        request.params["Updated_From"] = self._start.isoformat()  # type: ignore[union-attr]
        self._last = end >= datetime.now(UTC).replace(tzinfo=None)
        if self._last:
            request.params.pop("Updated_Through", None)
        else:
            request.params["Updated_Through"] = end.isoformat()


class WorkdayConnector:
    protocol_fields: tuple[str, ...] = ()

    def __init__(self, auth: WorkdayAuth, base_url: str, tenant: str, owner: str, window_days: float) -> None:
        self.auth, self.session, self.window = auth, auth.session, timedelta(days=window_days)
        self.base = base_url.rstrip("/")
        self.reports = f"/ccx/service/customreport2/{tenant}/{owner}"

    def discover(self, obj: SourceObject) -> Discovery:
        response = self.session.get(f"{self.base}{self.reports}/{obj.file_stem}?xsd", auth=self.auth)
        _raise(response, f"report {obj.file_stem} schema")
        return Discovery({name: _XSD_FAMILIES.get(t, "text") for name, t in _XSD_FIELD.findall(response.text)})

    def resources(self, objects: list[SourceObject], found: dict[str, Discovery], lag: float) -> list[Any]:
        configs = []
        for obj in objects:
            hints = _resource_hints(obj, lag, None, INITIAL.isoformat())
            hints["columns"] = contract_columns(obj)
            hints["endpoint"] = {
                **hints["endpoint"],
                "path": f"{self.reports}/{obj.file_stem}",
                "params": {"format": "json", "Updated_From": "{incremental.start_value}"},
                "data_selector": "Report_Entry",
                "paginator": UpdateWindowPaginator(self.window),
            }
            configs.append(hints)
        client = {"base_url": self.base, "session": self.session}
        return rest_api_resources({"client": client, "resources": configs})  # type: ignore[typeddict-item]


# --- Anaplan exports --------------------------------------------------------------------------------------------
_ANAPLAN_FAMILIES = {"NUMBER": "number", "BOOLEAN": "boolean", "DATE": "date"}


class AnaplanExportsConnector:
    """The planning objects through the Anaplan client the reverse sync uses (its auth, tasks and chunked files)."""

    protocol_fields: tuple[str, ...] = ()

    def __init__(self, client: AnaplanClient) -> None:
        self.client, self.auth = client, client.auth
        self._ids: dict[str, str] | None = None

    def export_id(self, obj: SourceObject) -> str:
        if self._ids is None:
            self._ids = self.client.exports()
        name = f"{obj.file_stem}.csv"
        if name not in self._ids:
            raise ConnectorError(f"no export named {name!r} in the model (exports: {', '.join(self._ids)})")
        return self._ids[name]

    def discover(self, obj: SourceObject) -> Discovery:
        meta = self.client.export_metadata(self.export_id(obj))
        types = [_ANAPLAN_FAMILIES.get(t, "text") for t in meta["dataTypes"]]
        return Discovery(dict(zip(meta["headerNames"], types, strict=True)))

    def resources(self, objects: list[SourceObject], found: dict[str, Discovery], lag: float) -> list[Any]:
        return [self._resource(obj) for obj in objects]

    def _resource(self, obj: SourceObject):
        @dlt.resource(
            name=obj.name,
            table_name=obj.name,
            primary_key=list(obj.primary_key),
            write_disposition="merge",
            columns=contract_columns(obj),
        )
        def export() -> Iterator[list[dict[str, Any]]]:
            content = self.client.run_export(self.export_id(obj))
            digest = hashlib.sha256(content).hexdigest()
            state = dlt.current.resource_state()
            if state.get("export_sha256") == digest:
                return  # the plan has not changed since the last load
            yield _csv_rows(content)
            state["export_sha256"] = digest

        return export


def _csv_rows(content: bytes) -> list[dict[str, Any]]:
    """One export file (a page of the API, parsed whole) as records of text values; empty cells are null."""
    reader = csv.DictReader(io.StringIO(content.decode("utf-8-sig"), newline=""))
    return [{k: (v if v != "" else None) for k, v in row.items()} for row in reader]


def _raise(response: requests.Response, what: str) -> None:
    """A refused request as ConnectorError: status, the vendor's error code and message (never a secret)."""
    if response.status_code >= 400:
        raise request_error(what, response)
