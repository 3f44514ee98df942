"""Who may talk to the web page: loopback by default, a warning when bound elsewhere, and the checks
that keep other web sites out (the Host a request names, the Origin of a change, the page's headers).

The page shows every channel and acts as any person of the emulated workspace, so anyone who reaches
it can do both: it listens on 127.0.0.1 unless told otherwise. Requests naming another Host are
refused (a web site cannot use DNS rebinding to read the page), and changes must come from the page
itself as JSON (a web site cannot post a form to it). Pure: no I/O.
"""

from __future__ import annotations

import ipaddress

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "[::1]", "::1")
WILDCARDS = ("0.0.0.0", "::", "")

# Sent with every answer: scripts and styles from the page's own files only (no inline script, no
# eval), images from anywhere a message points (as Slack shows them), nothing framed, no referrer.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: http: https:; "
        "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a name or an address to bind) is reachable from this machine only."""
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def exposure_warning(host: str, port: int) -> str | None:
    """What to tell the person who binds the page to ``host`` when it is not loopback (else None)."""
    if is_loopback(host):
        return None
    where = "every interface" if host in WILDCARDS else host
    return (
        f"WARNING: the chat emulator's web view listens on {where} (port {port}): anyone who can reach "
        "this machine there can read every channel and post, react and press buttons as any person of "
        "the emulated workspace. Bind it to 127.0.0.1 (the default) unless that is what you want."
    )


def host_allowed(host_header: str | None, bound_host: str, port: int) -> bool:
    """Whether a request naming ``host_header`` (its Host header) is for this page.

    Bound to loopback, only loopback names with the page's port are; bound to an address, that
    address too; bound to every interface, any name (the warning said so).
    """
    if bound_host in WILDCARDS:
        return True
    if not host_header:
        return False
    name, _, given_port = host_header.rpartition(":")
    if not name or given_port != str(port):
        return False
    names = {*LOOPBACK_NAMES}
    if not is_loopback(bound_host):
        names.add(bound_host if ":" not in bound_host else f"[{bound_host}]")
    return name.lower() in names


def origin_allowed(origin: str | None, host_header: str | None) -> bool:
    """Whether a change may come from ``origin``: the page's own (a client without an Origin, such as
    a test's HTTP client, is no web site and may)."""
    if origin is None:
        return True
    return host_header is not None and origin == f"http://{host_header}"
