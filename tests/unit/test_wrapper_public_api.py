"""The public surface of dms_rocketmq: pinned names, docstrings, typing marker."""

from __future__ import annotations

import inspect
import subprocess
import sys
from pathlib import Path

import dms_rocketmq
import pytest

PUBLIC = [
    "AKSKAuth",
    "APIConnectionError",
    "APIError",
    "APIStatusError",
    "APITimeoutError",
    "AsyncClient",
    "AuthenticationError",
    "BadRequestError",
    "CertificateError",
    "Client",
    "ConfigurationError",
    "ConfirmationError",
    "DMSError",
    "InternalServerError",
    "MalformedResponseError",
    "Message",
    "MessageMismatchError",
    "MessageNotVisibleError",
    "NotFoundError",
    "PayloadTooLargeError",
    "PermissionDeniedError",
    "ProxyError",
    "REGION_ENDPOINTS",
    "RateLimitError",
    "SendCancelledError",
    "SendFailure",
    "SendOutcome",
    "SendResult",
    "Settings",
    "StoredMessage",
    "TLSError",
    "TokenAuth",
    "UnexpectedStatusError",
    "ValidationError",
    "__version__",
    "canonical_url",
    "set_testing",
    "sign_request",
]


def test_all_is_pinned() -> None:
    """__all__ is exactly the documented public names; adding or removing one is a deliberate change."""
    assert sorted(dms_rocketmq.__all__) == sorted(PUBLIC)
    for name in PUBLIC:
        assert hasattr(dms_rocketmq, name)


def test_public_names_have_docstrings() -> None:
    """Every public class and function, and their public methods, has a docstring."""
    for name in PUBLIC:
        obj = getattr(dms_rocketmq, name)
        if inspect.isclass(obj) or inspect.isfunction(obj):
            assert inspect.getdoc(obj), name
        if inspect.isclass(obj):
            for attr, member in vars(obj).items():
                if not attr.startswith("_") and (inspect.isfunction(member) or isinstance(member, property)):
                    assert inspect.getdoc(member), f"{name}.{attr}"


def test_private_modules_declare_all() -> None:
    """Each private module, and each subpackage (the command line's), lists its exports in __all__ (the httpx
    habit)."""
    package = Path(dms_rocketmq.__file__).parent
    modules = [*package.rglob("_*.py"), *package.glob("*/__init__.py")]
    assert any(path.parent.name == "cli" for path in modules)
    for path in modules:
        if path.relative_to(package).as_posix() in ("__init__.py", "__main__.py"):
            continue
        assert "__all__" in path.read_text(encoding="utf-8"), path.relative_to(package).as_posix()


def test_py_typed_marker() -> None:
    """The package ships py.typed so that users' type checkers read its annotations."""
    assert (Path(dms_rocketmq.__file__).parent / "py.typed").exists()


def test_import_does_not_need_requests_or_aiohttp_modules() -> None:
    """Importing dms_rocketmq does not import requests (not a dependency) nor the aiohttp transport."""
    code = "import sys, dms_rocketmq; print('requests' in sys.modules, 'httpx_aiohttp' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


@pytest.mark.parametrize("method", ["send", "send_json"])
@pytest.mark.parametrize("cls", [dms_rocketmq.Client, dms_rocketmq.AsyncClient])
def test_per_call_timeout_type_reads_once(cls: type, method: str) -> None:
    """The per-call `timeout` shows as `float | httpx.Timeout | None`, not an alias with a second `| None`."""
    annotation = inspect.signature(getattr(cls, method)).parameters["timeout"].annotation
    assert annotation == "float | httpx.Timeout | None"
