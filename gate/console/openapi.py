"""The OpenAPI 3 description of the console's JSON API (served at /api/openapi.json and
fuzzed by schemathesis in the tests). Session: the ``egate_session`` cookie; changes also
need the ``X-CSRF-Token`` header from ``GET /api/session``."""

from __future__ import annotations

from typing import Any

_NAME = {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,32}$"}
_ID = {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,64}$"}
_ERRORS = {
    code: {
        "description": text,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }
    for code, text in (
        ("401", "no session"),
        ("403", "wrong role or CSRF token"),
        ("404", "unknown lane, referral or alarm"),
        ("413", "body too large"),
        ("422", "invalid field"),
        ("503", "the lane is not reachable"),
    )
}


def _json(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"type": "object"}}},
    }


def _get(
    summary: str, params: list[dict[str, Any]] | None = None, ok: str = "OK"
) -> dict[str, Any]:
    return {
        "get": {
            "summary": summary,
            "parameters": params or [],
            "responses": {"200": _json(ok), **_ERRORS},
        }
    }


def _post(summary: str, params: list[dict[str, Any]], body: dict[str, Any]) -> dict[str, Any]:
    return {
        "post": {
            "summary": summary,
            "parameters": [
                *params,
                {
                    "name": "X-CSRF-Token",
                    "in": "header",
                    "required": True,
                    "schema": {"type": "string"},
                },
            ],
            "requestBody": {"required": True, "content": {"application/json": {"schema": body}}},
            "responses": {"202": _json("sent to the lane"), "400": _ERRORS["422"], **_ERRORS},
        }
    }


def _path(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": schema}


def _query(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema}


def _body(**fields: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "required": list(fields), "properties": fields}


_REASON = {"type": "string", "minLength": 1, "maxLength": 200}


def schema() -> dict[str, Any]:
    return {
        "openapi": "3.0.3",
        "info": {"title": "egate officer console", "version": "1"},
        "components": {
            "schemas": {
                "Error": {
                    "type": "object",
                    "properties": {"error": {"type": "string"}},
                    "required": ["error"],
                }
            },
            "securitySchemes": {
                "session": {"type": "apiKey", "in": "cookie", "name": "egate_session"}
            },
        },
        "security": [{"session": []}],
        "paths": {
            "/api/session": _get("who is logged in, and the CSRF token"),
            "/api/hall": _get("every lane's tile"),
            "/api/lanes/{lane}": _get("one lane", [_path("lane", _NAME)]),
            "/api/lanes/{lane}/service": _post(
                "open or close a lane",
                [_path("lane", _NAME)],
                _body(service={"type": "string", "enum": ["open", "closed"]}, reason=_REASON),
            ),
            "/api/referrals": _get("open referrals"),
            "/api/referrals/{rid}/decision": _post(
                "accept or refuse a referral",
                [_path("rid", _ID)],
                _body(decision={"type": "string", "enum": ["accept", "refuse"]}, reason=_REASON),
            ),
            "/api/alarms": _get("alarms"),
            "/api/alarms/{aid}/ack": _post(
                "acknowledge an alarm", [_path("aid", _ID)], _body(reason=_REASON)
            ),
            "/api/audit": _get(
                "search the audit logs",
                [
                    _query("lane", _NAME),
                    _query("text", {"type": "string"}),
                    _query("limit", {"type": "integer", "minimum": 1, "maximum": 1000}),
                ],
            ),
            "/api/metrics": _get("throughput, outcome mix, stage latencies"),
            "/api/report": _get(
                "the shift report (supervisors, auditors); format=csv for a CSV file",
                [
                    _query("hours", {"type": "number", "minimum": 0.01, "maximum": 168}),
                ],
            ),
        },
    }
