"""The client's own defaults, in one place so that code, tests and documentation agree.

DMS's rules (engines, name patterns, reserved names, size limits) are not here: they come from openapi.yaml
through `dms_rocketmq_api.spec_rules`, which `make generate` writes.
"""

from __future__ import annotations

import importlib.metadata

import httpx
from dms_rocketmq_api.spec_rules import ERRORS

__all__ = [
    "CONFIRM_FIRST_POLL",
    "CONFIRM_MAX_POLL",
    "DEFAULT_CONCURRENCY",
    "DEFAULT_CONFIRM_TIMEOUT",
    "DEFAULT_MAX_CONNECTIONS",
    "DEFAULT_MAX_CONNECTION_FAILURES",
    "DEFAULT_MAX_RETRIES",
    "DEFAULT_PAGE_SIZE",
    "DEFAULT_TIMEOUT",
    "ENV",
    "INITIAL_RETRY_DELAY",
    "MAX_RETRY_AFTER",
    "MAX_RETRY_DELAY",
    "QUERY_END_MARGIN_MS",
    "RETRYABLE_ERRORS",
    "USER_AGENT",
    "VERSION",
    "WHITESPACE",
]

#: The distribution's version: its metadata (pyproject.toml's `version`) is the one place it is written.
VERSION = importlib.metadata.version("dms-rocketmq")
USER_AGENT = f"dms-rocketmq-python/{VERSION}"

#: The environment variable read for each argument; the official SDK's names where it has one.
ENV = {
    "ak": "HUAWEICLOUD_SDK_AK",
    "sk": "HUAWEICLOUD_SDK_SK",
    "security_token": "HUAWEICLOUD_SDK_SECURITY_TOKEN",
    "project_id": "HUAWEICLOUD_SDK_PROJECT_ID",
    "endpoint": "DMS_ROCKETMQ_ENDPOINT",
    "region": "DMS_ROCKETMQ_REGION",
    "instance_id": "DMS_ROCKETMQ_INSTANCE_ID",
    "engine": "DMS_ROCKETMQ_ENGINE",
    "token": "DMS_ROCKETMQ_TOKEN",
}

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

#: Messages per query page in `query_messages`. The reference's default is 10 and it states no maximum; a
#: service that returns fewer per page is still read to the end (paging goes by what each page holds).
DEFAULT_PAGE_SIZE = 50
#: A query range without `end` ends this far after now: the broker's clock may run ahead of the client's.
QUERY_END_MARGIN_MS = 5 * 60 * 1000
#: How long `confirm` waits for a sent message to become visible to the query. The service indexes messages
#: with a lag that its reference does not state; on the emulator a message is visible at once.
DEFAULT_CONFIRM_TIMEOUT = 10.0
#: `confirm` polls after this many seconds, then 1.5 times longer each time, at most CONFIRM_MAX_POLL apart.
CONFIRM_FIRST_POLL = 0.05
CONFIRM_MAX_POLL = 1.0

#: Exponential backoff: 0.5 s, 1 s, 2 s, ... capped at 8 s, each multiplied by a jitter in [0.75, 1].
INITIAL_RETRY_DELAY = 0.5
MAX_RETRY_DELAY = 8.0
#: A server's `Retry-After` is honoured up to this many seconds; above it we use our own backoff.
MAX_RETRY_AFTER = 60.0
#: The (status, error code) pairs retried by default: only the API gateway's throttling, refused before the
#: request reaches DMS (openapi.yaml's 429; the facts file, section 3), so sending again cannot duplicate the
#: message. Everything else, 503 included (its real code is not documented, and a broker may have stored the
#: message before a 5xx), is retried only when the caller opts in with `retry_statuses` (docs/wrapper.md).
RETRYABLE_ERRORS = frozenset({(429, ERRORS["TooManyRequests.throttled"][0])})

#: White space as the spec's regular expressions (ECMA-262 `\s`) define it; Python's `str.isspace` differs
#: (it includes U+001C..U+001F and U+0085, and excludes U+FEFF).
WHITESPACE = frozenset(
    "\t\n\v\f\r \u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000\ufeff"
)
