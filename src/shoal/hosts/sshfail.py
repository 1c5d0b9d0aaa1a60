"""What the system ``ssh`` meant when it could not reach a node, as shoal says it.

Shared by the ``openssh`` transport (:mod:`shoal.hosts.openssh`) and the tree's gateways
(:mod:`shoal.tree.workers`), so that a node that cannot be reached fails with the same
words through a gateway as directly: ``ssh``'s last line, cut to its reason and
lower-cased, in the words the asyncssh transport (:mod:`shoal.hosts.ssherrors`) uses.

>>> why("ssh: connect to host 10.0.0.7 port 22: Connection refused\\n")
('connect', 'connection refused', None)
>>> why("ssh: Could not resolve hostname web9: Name or service not known\\n")
('connect', 'name or service not known', None)
>>> why("ssh: connect to host h port 22: Connection timed out", limit=4.0)
('connect', 'connect timed out after 4s', None)
>>> why("ops@10.0.0.7: Permission denied (publickey,password).")[:2]
('auth', 'authentication failed: Permission denied for user ops on host 10.0.0.7')
>>> why("")
('connect', 'ssh failed', None)

Pure, and runs on Python 3.6 (gateways carry it): standard library only, no
annotation evaluated at run time.
"""

from __future__ import annotations

import re

__all__ = ["why"]

_FINGERPRINT = re.compile(r"(SHA256:[A-Za-z0-9+/=]+)")
_DENIED = re.compile(r"^(\S+)@(\S+): Permission denied\b")


def why(stderr: str, limit: float | None = None) -> tuple[str, str, str | None]:
    """``(kind, reason, fingerprint)`` of a failed ``ssh`` from what it printed.

    ``kind`` is ``auth`` (credentials refused), ``hostkey`` (an unknown or changed host
    key; ``fingerprint`` is the key it showed, if ssh printed it) or ``connect``.
    ``limit`` is the connect timeout in force, which a time-out names.
    """
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    text = " ".join(lines)
    last = lines[-1] if lines else "ssh failed"
    if "Permission denied" in text:
        found = _DENIED.search(last)  # the words of the asyncssh transport
        if found:
            last = f"Permission denied for user {found[1]} on host {found[2]}"
        return "auth", "authentication failed: " + last, None
    if "host key" in text.lower() or "HOST IDENTIFICATION HAS CHANGED" in text:
        found = _FINGERPRINT.search(text)
        return ("hostkey", f"{last} (trust a new key with --accept-new-host-keys)",
                found[1] if found else None)
    reason = last.rsplit(": ", 1)[-1] if ": " in last else last
    if "timed out" in text and limit is not None:
        reason = f"connect timed out after {limit:g}s"
    return "connect", reason[0].lower() + reason[1:] if reason else "ssh failed", None
