"""A local Workday tenant's Reports-as-a-Service (the subset the HRIS connector uses), serving the demo firm.

- `POST /ccx/oauth2/{tenant}/token`: OAuth 2.0 for an API client for integrations:
  `grant_type=refresh_token` with the integration's `refresh_token`, client id and secret by HTTP
  Basic (or form fields). Answers `{"access_token", "token_type": "Bearer", "expires_in"}`.
- `GET /ccx/service/customreport2/{tenant}/{owner}/{report}?format=json` with `Authorization:
  Bearer`: `{"Report_Entry": [...]}`, every value a string, empty fields left out. The reports
  carry the prompts `Updated_From` and `Updated_Through` (ISO datetimes, `Last_Updated >= from`
  and `< through`), which the connector pages through. `?xsd` answers the report's XML schema:
  its fields and their types, as Workday publishes it for every RaaS report.

Reports: Workers, Rate_Card, Worker_Cost_Rates, Time_Off, Holidays. Workday does not delete
absences: deleting a `Time_Off` entry (admin) cancels it (`Status` Canceled, `Last_Updated` now);
other records are removed from the report.
"""

from __future__ import annotations

import base64
import re
import secrets
from datetime import datetime
from pathlib import Path
from typing import Any

from demo.servers.common.base import HttpError, RunningServer, SourceHandler, SourceState, serve
from demo.servers.common.render import object_sql
from demo.servers.common.store import DemoStore, q

_TOKEN = re.compile(r"/ccx/oauth2/(?P<tenant>[^/]+)/token")
_REPORT = re.compile(r"/ccx/service/customreport2/(?P<tenant>[^/]+)/(?P<owner>[^/]+)/(?P<report>[^/]+)")
_XSD_TYPES = {"DATE": "xsd:date", "TIMESTAMP": "xsd:dateTime", "BOOLEAN": "xsd:boolean", "INTEGER": "xsd:integer"}


def xsd_type(type_: str) -> str:
    return "xsd:decimal" if type_.startswith("DECIMAL") else _XSD_TYPES.get(type_, "xsd:string")


class WorkdayHandler(SourceHandler):
    server_version = "LocalWorkday/1.0"

    def render_error(self, error: HttpError) -> Any:
        return {"error": error.code or "error", "errors": [{"error": str(error)}]}

    def route(self, path: str, query: dict[str, str], body: bytes) -> None:
        config = self.state.credentials
        if (token := _TOKEN.fullmatch(path)) and self.command == "POST":
            if token["tenant"] != config["tenant"]:
                raise HttpError(404, f"tenant {token['tenant']} not found", "invalid_tenant")
            self._token(body)
        elif (report := _REPORT.fullmatch(path)) and self.command == "GET":
            if not self.state.token_valid(self.bearer_token()):
                raise HttpError(401, "Invalid or expired access token", "invalid_token")
            if (report["tenant"], report["owner"]) != (config["tenant"], config["owner"]):
                raise HttpError(404, "report not found for this tenant and owner", "not_found")
            self._report(report["report"], query)
        else:
            raise HttpError(404, "not found", "not_found")

    def _token(self, body: bytes) -> None:
        form = self.token_form(body, "refresh_token", "grant_type must be refresh_token")
        client_id, client_secret = form.get("client_id", ""), form.get("client_secret", "")
        scheme, _, encoded = self.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "basic":
            client_id, _, client_secret = base64.b64decode(encoded).decode().partition(":")
        expected = self.state.credentials
        good_client = client_id == expected["client_id"] and secrets.compare_digest(
            client_secret, expected["client_secret"]
        )
        if not good_client or not secrets.compare_digest(form.get("refresh_token", ""), expected["refresh_token"]):
            raise HttpError(401, "invalid client or refresh token", "invalid_client")
        ttl = self.state.token_ttl_seconds
        self.send_json(200, {"access_token": self.state.issue_token(), "token_type": "Bearer", "expires_in": int(ttl)})

    def _report(self, name: str, query: dict[str, str]) -> None:
        try:
            state = self.state.store.state(name)
        except ValueError:
            raise HttpError(404, f"report {name} not found", "not_found") from None
        if "xsd" in query:
            self.send_body(200, self._xsd(name, state.fields).encode(), "application/xml")
            return
        if query.get("format") != "json":
            raise HttpError(400, "this server answers format=json (and ?xsd) only", "invalid_format")
        where, params = [], []
        for prompt, op in (("Updated_From", ">="), ("Updated_Through", "<")):
            if prompt in query:
                try:
                    params.append(datetime.fromisoformat(query[prompt].replace("Z", "+00:00")).replace(tzinfo=None))
                except ValueError:
                    raise HttpError(400, f"{prompt} is not an ISO datetime", "invalid_prompt") from None
                where.append(f"try_cast({q('Last_Updated')} as timestamp) {op} ?")
        sql = f"select {object_sql(state.fields, 'workday')} from {state.table}"
        sql += (" where " + " and ".join(where) if where else "") + " order by _seq"
        rows = self.state.store.query(sql, params)
        body = '{"Report_Entry": [' + ",".join(r[0] for r in rows) + "]}"
        self.send_body(200, body.encode(), "application/json")

    @staticmethod
    def _xsd(name: str, fields: dict[str, str]) -> str:
        elements = "".join(
            f'<xsd:element name="{field}" type="{xsd_type(type_)}" minOccurs="0"/>' for field, type_ in fields.items()
        )
        return (
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<xsd:schema xmlns:xsd="http://www.w3.org/2001/XMLSchema" elementFormDefault="qualified">'
            f'<xsd:element name="Report_Data"><xsd:complexType><xsd:sequence>'
            f'<xsd:element name="Report_Entry" maxOccurs="unbounded"><xsd:complexType><xsd:sequence>{elements}'
            f"</xsd:sequence></xsd:complexType></xsd:element></xsd:sequence></xsd:complexType></xsd:element>"
            f"<!-- report {name} --></xsd:schema>"
        )

    def delete_record(self, name: str, key: dict[str, Any]) -> dict[str, Any]:
        if name == "Time_Off":  # an absence is canceled, never deleted
            return {"canceled": 1, "modified": self.state.store.update(name, key, {"Status": "Canceled"})}
        return {"deleted": self.state.store.remove(name, key)}


def start_server(
    landing_dir: Path | None,
    port: int = 0,
    tenant: str = "psf_demo",
    owner: str = "ISU_PSA_Pipeline",
    client_id: str = "demo-client",
    client_secret: str = "demo-secret",
    refresh_token: str = "demo-refresh-token",
    token_ttl_seconds: float = 3600,
) -> RunningServer:
    """Serve the demo firm's HRIS reports on 127.0.0.1."""
    store = DemoStore(("hris",), landing_dir, "%Y-%m-%dT%H:%M:%S")
    credentials = {
        "tenant": tenant,
        "owner": owner,
        "client_id": client_id,
        "client_secret": client_secret,
        "refresh_token": refresh_token,
    }
    return serve(WorkdayHandler, SourceState(store, credentials, token_ttl_seconds=token_ttl_seconds), port)
