"""The client's own defaults, in one place so that code, tests and documentation agree.

DMS's rules (engines, name patterns, reserved names, size limits) are not here: they come from openapi.yaml
through `dms_rocketmq_api.spec_rules`, which `make generate` writes.
"""

from __future__ import annotations

import httpx

__all__ = [
    "DEFAULT_CONCURRENCY",
    "DEFAULT_MAX_CONNECTIONS",
    "DEFAULT_MAX_CONNECTION_FAILURES",
    "DEFAULT_MAX_RETRIES",
    "DEFAULT_TIMEOUT",
    "INITIAL_RETRY_DELAY",
    "MAX_RETRY_AFTER",
    "MAX_RETRY_DELAY",
    "RETRYABLE_ERRORS",
    "USER_AGENT",
    "WHITESPACE",
]

USER_AGENT = "dms-rocketmq-python/0.1.0"

#: The official SDK waits 60 s to connect and 120 s to read; a message send that takes a minute is
#: already broken, so we fail sooner and let the retry policy decide.
DEFAULT_TIMEOUT = httpx.Timeout(60.0, connect=10.0)
DEFAULT_MAX_RETRIES = 2
#: Sends in flight at once in `send_many` when the caller does not say.
DEFAULT_CONCURRENCY = 16
#: With fail-fast on, bulk sending stops after this many connection failures in a row (each already retried
#: when the request had not left): the endpoint is down or unreachable, and every other line would fail too.
DEFAULT_MAX_CONNECTION_FAILURES = 10
#: Connection pool size of each client; above any sensible `concurrency`.
DEFAULT_MAX_CONNECTIONS = 128

#: Exponential backoff: 0.5 s, 1 s, 2 s, ... capped at 8 s, each multiplied by a jitter in [0.75, 1].
INITIAL_RETRY_DELAY = 0.5
MAX_RETRY_DELAY = 8.0
#: A server's `Retry-After` is honoured up to this many seconds; above it we use our own backoff.
MAX_RETRY_AFTER = 60.0
#: The (status, error code) pairs retried by default: only the API gateway's throttling, refused before the
#: request reaches DMS (openapi.yaml's 429; the facts file, section 3), so sending again cannot duplicate the
#: message. Everything else, 503 included (its real code is not documented, and a broker may have stored the
#: message before a 5xx), is retried only when the caller opts in with `retry_statuses` (docs/wrapper.md).
RETRYABLE_ERRORS = frozenset({(429, "APIG.0308")})

#: White space as the spec's regular expressions (ECMA-262 `\s`) define it; Python's `str.isspace` differs
#: (it includes U+001C..U+001F and U+0085, and excludes U+FEFF).
WHITESPACE = frozenset(
    "\t\n\v\f\r \u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000\ufeff"
)
