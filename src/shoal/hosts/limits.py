"""Process limits a wide fan-out runs into.

Every open connection holds a socket; 2,000 hosts kept open need more than the usual
soft limit of 1,024 open files. The soft limit may be raised up to the hard limit
without privileges, so shoal raises it as far as a run needs and no further; what to do
when the hard limit is lower is the caller's choice (the engine lowers its fan-out).
"""

from __future__ import annotations

import logging
import resource

__all__ = ["raise_nofile_limit"]

log = logging.getLogger(__name__)


def raise_nofile_limit(wanted: int) -> int:
    """Raise the soft open-files limit to ``wanted`` if allowed; return the limit now.

    Never lowers it, and stops at the hard limit. An unlimited one is returned as
    ``resource.RLIM_INFINITY``.

    >>> raise_nofile_limit(16) >= 16
    True
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= wanted:
        return soft
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if target > soft:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError) as exc:  # pragma: no cover - platform refuses
            log.warning("cannot raise the open-files limit to %d: %s", target, exc)
            return soft
    return target
