"""Slack's documented shapes, as JSON Schema, to check what the emulator answers and sends.

Web API answers: each method's ``output_schema`` from Slack's reference data (slack_api/output_schemas.json,
vendored from slack-ruby/slack-api-ref). That data names shared objects (``"schema": "message"``) without
defining them; NAMED defines them from Slack's object reference pages, with the fields the emulator's
users rely on made required. Socket Mode frames and payloads, which the method data does not cover, are
in PAYLOADS, from Slack's Socket Mode, Events API and interactivity reference pages.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema

TS = {"type": "string", "pattern": r"^\d{10}\.\d{6}$"}
UUID = {"type": "string", "pattern": r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"}


def _id(prefix: str) -> dict[str, Any]:
    return {"type": "string", "pattern": f"^[{prefix}][A-Z0-9]+$"}


NAMED: dict[str, Any] = {
    "ts": TS,
    "channel": _id("CGD"),
    "user_id": _id("UW"),
    "team_id": _id("TE"),
    "bot_id": _id("B"),
    "app_id": _id("A"),
    "file_id": _id("F"),
    "enterprise_id": {"type": ["string", "null"]},
    # Every block Slack stores has a block_id (it makes one up for a block posted without).
    "blocks": {
        "type": "array",
        "items": {"type": "object", "required": ["type", "block_id"],
                  "properties": {"type": {"type": "string"}, "block_id": {"type": "string", "minLength": 1}}},
    },
    "message": {
        "type": "object",
        "required": ["type", "ts", "text"],
        "properties": {
            "type": {"const": "message"},
            "ts": TS,
            "thread_ts": TS,
            "text": {"type": "string"},
            "user": {"type": "string"},
            "client_msg_id": UUID,
            "team": _id("T"),
            "bot_id": _id("B"),
            "app_id": _id("A"),
            "blocks": {"$ref": "#/$defs/blocks"},
            "edited": {"type": "object", "required": ["user", "ts"]},
            "metadata": {"type": "object", "required": ["event_type", "event_payload"]},
            "reactions": {"type": "array", "items": {"type": "object", "required": ["name", "users", "count"]}},
            "reply_count": {"type": "integer"},
        },
    },
    "conversation": {
        "type": "object",
        "required": ["id", "name", "is_channel", "is_private", "is_archived", "is_shared", "is_ext_shared", "created"],
        "properties": {"id": _id("CG"), "is_shared": {"type": "boolean"}, "is_ext_shared": {"type": "boolean"}},
    },
    "user": {"type": "object", "required": ["id", "team_id", "name", "deleted", "is_bot", "profile"]},
    "subteam": {"type": "object", "required": ["id", "team_id", "handle", "name"]},
    "file": {"type": "object"},
    "comment": {"type": "object"},
    "home": {"type": "object"},
    "view": {"type": "object"},
}

_AUTHORIZATION = {
    "type": "object",
    "required": ["enterprise_id", "team_id", "user_id", "is_bot", "is_enterprise_install"],
}

PAYLOADS: dict[str, Any] = {
    "hello": {
        "type": "object",
        "required": ["type", "num_connections", "debug_info", "connection_info"],
        "properties": {
            "type": {"const": "hello"},
            "num_connections": {"type": "integer", "minimum": 1},
            "debug_info": {"type": "object", "required": ["host", "build_number", "approximate_connection_time"],
                           "properties": {"approximate_connection_time": {"type": "integer", "minimum": 1}}},
            "connection_info": {"type": "object", "required": ["app_id"]},
        },
    },
    "disconnect": {
        "type": "object",
        "required": ["type", "reason", "debug_info"],
        "additionalProperties": False,
        "properties": {
            "type": {"const": "disconnect"},
            "reason": {"enum": ["warning", "refresh_requested", "link_disabled", "too_many_websockets"]},
            "debug_info": {"type": "object", "required": ["host"]},
        },
    },
    "envelope": {
        "type": "object",
        "required": ["envelope_id", "type", "payload", "accepts_response_payload"],
        "properties": {"type": {"enum": ["events_api", "interactive"]}, "retry_attempt": {"type": "integer"},
                       "retry_reason": {"type": "string"}},
    },
    "event_callback": {
        "type": "object",
        "required": ["token", "team_id", "api_app_id", "event", "type", "event_id", "event_time", "authorizations",
                     "is_ext_shared_channel", "event_context"],
        "properties": {
            "type": {"const": "event_callback"},
            "team_id": _id("T"),
            "api_app_id": _id("A"),
            "event_id": {"type": "string", "pattern": "^Ev[A-Z0-9]+$"},
            "event_time": {"type": "integer"},
            "authorizations": {"type": "array", "minItems": 1, "items": _AUTHORIZATION},
            "is_ext_shared_channel": {"type": "boolean"},
            "event_context": {"type": "string", "minLength": 1},
            "event": {"type": "object", "required": ["type", "event_ts"], "properties": {"event_ts": TS}},
        },
    },
    "block_actions": {
        "type": "object",
        "required": ["type", "user", "api_app_id", "token", "container", "trigger_id", "team", "channel", "message",
                     "response_url", "actions"],
        "properties": {
            "type": {"const": "block_actions"},
            "user": {"type": "object", "required": ["id", "username", "team_id"]},
            "container": {"type": "object", "required": ["type", "message_ts", "channel_id"]},
            "message": {"$ref": "#/$defs/message", "required": ["blocks"]},
            "response_url": {"type": "string", "pattern": "^https?://"},
            "actions": {
                "type": "array",
                "minItems": 1,
                "items": {"type": "object", "required": ["type", "action_id", "block_id", "action_ts"],
                          "properties": {"block_id": {"type": "string", "minLength": 1}, "action_ts": TS}},
            },
        },
    },
}


def _with_refs(schema: Any) -> Any:
    """The reference data's ``{"schema": "message"}`` as JSON Schema's ``{"$ref": "#/$defs/message"}``."""
    if isinstance(schema, dict):
        out = {k: _with_refs(v) for k, v in schema.items() if k != "schema"}
        if "schema" in schema:
            out["$ref"] = f"#/$defs/{schema['schema']}"
        return out
    if isinstance(schema, list):
        return [_with_refs(v) for v in schema]
    return schema


def output_schemas() -> dict[str, Any]:
    data = json.loads((Path(__file__).parent / "slack_api" / "output_schemas.json").read_text())
    return {method: schema for method, schema in data.items() if not method.startswith("_")}


def assert_shape(schema: dict[str, Any] | None, data: Any, what: str) -> None:
    """Fail, naming ``what`` and the first mismatch, unless ``data`` fits ``schema``."""
    if schema is None:
        return
    full = {**_with_refs(schema), "$defs": {name: _with_refs(s) for name, s in NAMED.items()}}
    validator = jsonschema.Draft202012Validator(full)
    errors = sorted(validator.iter_errors(data), key=lambda e: list(e.path))
    assert not errors, f"{what}: " + "; ".join(f"{list(e.path)}: {e.message}" for e in errors[:5])


def assert_method_answer(method: str, data: dict[str, Any]) -> None:
    assert data.get("ok") is True, f"{method} failed: {data}"
    assert_shape(output_schemas()[method], data, method)


def assert_payload(kind: str, data: Any) -> None:
    assert_shape(PAYLOADS[kind], data, kind)
