"""The emulator's REST shapes held against Discord's own OpenAPI description (``data/``: a copy of
discord/discord-api-spec, MIT): every route it serves exists in the spec with that method, and what it
answers (successes, errors, 429s) validates against the spec's schema for that status."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from airflow_chat_alerts.testing.discord.rest import ROUTES

SPEC_PATH = Path(__file__).parent / "data" / "discord-openapi.json"
SPEC_URI = "urn:discord-openapi"


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    """The spec, with one correction where it and Discord's documentation disagree (the spec's README
    says to follow the docs): a field error of 50035 Invalid Form Body carries a string code such as
    ``BASE_TYPE_MAX_LENGTH`` (documented in "Error Messages"), where the spec reuses the integer-coded
    ``Error``."""
    loaded = json.loads(SPEC_PATH.read_text())
    inner = loaded["components"]["schemas"]["InnerErrors"]["properties"]["_errors"]
    inner["items"] = {"type": "object", "required": ["code", "message"],
                      "properties": {"code": {"type": "string"}, "message": {"type": "string"}}}
    return loaded


def _shape(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "{}", path)


def _operation(spec: dict[str, Any], method: str, path: str) -> dict[str, Any] | None:
    for spec_path, item in spec["paths"].items():
        if _shape(spec_path) == _shape(path) and method.lower() in item:
            return item[method.lower()]
    return None


def test_every_route_exists_in_the_spec_with_its_method(spec):
    missing = [f"{r.method} {r.path}" for r in ROUTES if _operation(spec, r.method, r.path) is None]
    assert missing == []


class Recorder:
    """Calls the emulator over HTTP and keeps (route, status, body) of every answer."""

    def __init__(self, emu: Any) -> None:
        self.emu = emu
        self.answers: list[tuple[str, str, int, Any]] = []

    def call(self, method: str, path: str, body: Any = None, *, token: str | None = "bot", files: dict[str, bytes] | None = None,
             expect: int | None = None) -> Any:
        headers = {"User-Agent": "shape-test"}
        if token == "bot":
            headers["Authorization"] = f"Bot {self.emu.bot_token}"
        elif token:
            headers["Authorization"] = token
        data = None
        if files:
            boundary = uuid.uuid4().hex
            parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="payload_json"\r\n'
                     f"Content-Type: application/json\r\n\r\n{json.dumps(body or {})}\r\n".encode()]
            for i, (name, content) in enumerate(files.items()):
                parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="files[{i}]"; filename="{name}"\r\n'
                             f"Content-Type: application/octet-stream\r\n\r\n".encode() + content + b"\r\n")
            data = b"".join(parts) + f"--{boundary}--\r\n".encode()
            headers["Content-Type"] = f"multipart/form-data; boundary={boundary}"
        elif body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(self.emu.base_url + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                status, raw = response.status, response.read()
        except urllib.error.HTTPError as err:
            status, raw = err.code, err.read()
        payload = json.loads(raw) if raw else None
        self.answers.append((method, path.split("?")[0], status, payload))
        if expect is not None:
            assert status == expect, (method, path, status, payload)
        return payload


def _route_of(method: str, path: str) -> Any:
    for route in ROUTES:
        pattern = "^" + re.sub(r"\{[^}]+\}", "[^/]+", re.escape(route.path).replace(r"\{", "{").replace(r"\}", "}")) + "$"
        if route.method == method and re.match(pattern, path):
            return route
    raise AssertionError(f"no route for {method} {path}")


def test_answers_validate_against_the_spec(spec, discord_emulator):
    emu = discord_emulator
    rec = Recorder(emu)
    ml = emu.channel_id("ml-alerts")
    alice = emu.token_for("alice")
    quoted = urllib.parse.quote("👍")

    rec.call("GET", "/users/@me", expect=200)
    rec.call("GET", "/users/@me", token=alice, expect=200)
    rec.call("GET", "/gateway/bot", expect=200)
    rec.call("GET", f"/channels/{ml}", expect=200)
    components = [{"type": 1, "components": [
        {"type": 2, "style": 3, "label": "Approve", "custom_id": "approve"},
        {"type": 2, "style": 5, "label": "Run", "url": "http://localhost:8080/run"}]}]
    question = rec.call("POST", f"/channels/{ml}/messages", {
        "content": f"Deploy? <@&{emu.role_id('ml-leads')}> <@{emu.user_id('alice')}>",
        "embeds": [{"title": "Model 42", "description": "accuracy 0.93", "color": 0x2ECC71,
                    "fields": [{"name": "dag", "value": "train", "inline": True}], "footer": {"text": "Airflow"}}],
        "components": components, "allowed_mentions": {"parse": ["roles"], "users": [emu.user_id("alice")]}},
        expect=200)
    reply = rec.call("POST", f"/channels/{ml}/messages", {"content": "approve", "message_reference": {
        "message_id": question["id"]}}, token=alice, expect=200)
    rec.call("POST", f"/channels/{ml}/messages", {"content": "log attached", "attachments": [
        {"id": 0, "description": "the log"}]}, files={"run.log": b"line 1\nline 2\n"}, expect=200)
    rec.call("GET", f"/channels/{ml}/messages?limit=2", expect=200)
    rec.call("GET", f"/channels/{ml}/messages?around={reply['id']}&limit=3", expect=200)
    rec.call("GET", f"/channels/{ml}/messages/{reply['id']}", expect=200)
    rec.call("PATCH", f"/channels/{ml}/messages/{question['id']}", {"content": "Deploy? (edited)"}, expect=200)
    doomed = rec.call("POST", f"/channels/{ml}/messages", {"content": "to delete"}, expect=200)
    rec.call("DELETE", f"/channels/{ml}/messages/{doomed['id']}", expect=204)
    rec.call("PUT", f"/channels/{ml}/messages/{question['id']}/reactions/{quoted}/@me", token=alice, expect=204)
    rec.call("PUT", f"/channels/{ml}/messages/{question['id']}/reactions/{quoted}/@me", expect=204)
    rec.call("GET", f"/channels/{ml}/messages/{question['id']}/reactions/{quoted}?limit=1", expect=200)
    rec.call("DELETE", f"/channels/{ml}/messages/{question['id']}/reactions/{quoted}/@me", expect=204)
    thread = rec.call("POST", f"/channels/{ml}/messages/{question['id']}/threads", {"name": "deploy 42"}, expect=201)
    rec.call("POST", f"/channels/{thread['id']}/messages", {"content": "in the thread"}, token=alice, expect=200)
    rec.call("GET", f"/channels/{thread['id']}", expect=200)
    rec.call("GET", f"/channels/{thread['id']}/messages", expect=200)
    rec.call("GET", f"/channels/{ml}/messages/{question['id']}", expect=200)  # now with its thread
    rec.call("GET", f"/guilds/{emu.guild_id}/members/{emu.user_id('carol')}", expect=200)
    rec.call("GET", f"/guilds/{emu.guild_id}/roles", expect=200)
    hook = emu.webhook_url("ml-alerts")[len(emu.base_url):]
    posted = rec.call("POST", f"{hook}?wait=true", {"content": "from the webhook"}, token=None, expect=200)
    rec.call("POST", hook, {"content": "fire and forget"}, token=None, expect=204)
    rec.call("GET", f"{hook}/messages/{posted['id']}", token=None, expect=200)
    rec.call("PATCH", f"{hook}/messages/{posted['id']}", {"content": "edited by the webhook"}, token=None, expect=200)
    rec.call("DELETE", f"{hook}/messages/{posted['id']}", token=None, expect=204)

    # A click, answered through the callback route (with_response) and followed up through the webhook.
    import threading

    clicked: list[Any] = []
    emu.wait_for_gateway(0)
    interaction = emu._click("carol", "ml-alerts", question["id"], "approve")
    answered = threading.Event()

    def answer() -> None:
        path = f"/interactions/{interaction.id}/{interaction.token}/callback?with_response=true"
        clicked.append(rec.call("POST", path, {"type": 4, "data": {"content": "Noted", "flags": 64}}, token=None))
        answered.set()

    threading.Thread(target=answer).start()
    answered.wait(30)
    assert clicked and clicked[0]["resource"]["message"]["content"] == "Noted"
    app_hook = f"/webhooks/{emu.application_id}/{interaction.token}"
    rec.call("POST", f"/interactions/{interaction.id}/{interaction.token}/callback", {"type": 6}, token=None,
             expect=400)
    rec.call("GET", f"{app_hook}/messages/@original", token=None, expect=200)
    rec.call("PATCH", f"{app_hook}/messages/@original", {"content": "Noted: approve"}, token=None, expect=200)
    follow = rec.call("POST", app_hook, {"content": "Thanks", "flags": 64}, token=None, expect=200)
    rec.call("DELETE", f"{app_hook}/messages/{follow['id']}", token=None, expect=204)

    # Errors, in Discord's shapes.
    rec.call("GET", f"/channels/{ml}9", expect=404)  # 10003
    rec.call("GET", f"/channels/{ml}/messages/1", expect=404)  # 10008
    rec.call("POST", f"/channels/{emu.channel_id('ops')}/messages", {"content": "x"}, expect=403)  # 50013
    rec.call("GET", f"/channels/{emu.channel_id('ml-private')}", token=emu.token_for("bob"), expect=403)  # 50001
    rec.call("PATCH", f"/channels/{ml}/messages/{reply['id']}", {"content": "not mine"}, expect=403)  # 50005
    rec.call("POST", f"/channels/{ml}/messages", {"content": ""}, expect=400)  # 50006
    rec.call("POST", f"/channels/{ml}/messages", {"content": "x" * 2001}, expect=400)  # 50035
    rec.call("PUT", f"/channels/{ml}/messages/{question['id']}/reactions/thumbsup/@me", expect=400)  # 10014
    rec.call("GET", f"/guilds/{emu.guild_id}/members/1", expect=404)  # 10007
    rec.call("POST", f"/interactions/{interaction.id}/wrong-token/callback", {"type": 6}, token=None, expect=404)
    rec.call("GET", "/users/@me", token="Bot nope", expect=401)
    rec.call("POST", hook[:-3] + "xyz", {"content": "x"}, token=None, expect=401)  # 50027
    emu.set_rate_limits("realistic")
    for i in range(6):
        rec.call("POST", f"/channels/{ml}/messages", {"content": f"fast {i}"}, token=alice)
    assert rec.answers[-1][2] == 429

    registry = Registry().with_resource(SPEC_URI, DRAFT202012.create_resource(spec))
    served = {r.name for r in ROUTES}
    covered: set[str] = set()
    failures = []
    for method, path, status, body in rec.answers:
        route = _route_of(method, path)
        covered.add(route.name)
        responses = _operation(spec, method, route.path)["responses"]  # type: ignore[index]
        key = str(status) if str(status) in responses else f"{str(status)[0]}XX"
        assert key in responses, (method, path, status, sorted(responses))
        response = responses[key]
        if "$ref" in response:  # a shared response: #/components/responses/…
            response = spec["components"]["responses"][response["$ref"].rsplit("/", 1)[-1]]
        content = response.get("content")
        if status == 204 or content is None:
            assert body is None, (method, path, body)
            continue
        schema = content["application/json"]["schema"]
        where = json.dumps(schema).replace('"#/', f'"{SPEC_URI}#/')
        validator = Draft202012Validator(json.loads(where), registry=registry)
        errors = sorted(validator.iter_errors(body), key=lambda e: list(e.absolute_path))
        if errors:
            failures.append(f"{method} {route.path} {status}: {errors[0].message[:300]} at {list(errors[0].absolute_path)}")
    assert failures == [], "\n".join(failures)
    assert covered == served
