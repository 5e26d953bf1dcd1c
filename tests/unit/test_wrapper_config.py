"""Settings: arguments, then environment (SDK names), then defaults; clear errors naming what to set."""

from __future__ import annotations

import dms_rocketmq as dms
import pytest
from dms_rocketmq._config import ENV, resolve_settings
from huaweicloudsdkrocketmq.v2.region.rocketmq_region import RocketMQRegion

BASE = {"endpoint": "https://h", "project_id": "p", "instance_id": "i"}


def test_region_table_is_the_sdks() -> None:
    """The region table equals the official SDK's, eu-west-101 on .myhuaweicloud.eu included."""
    sdk = {region_id: region.endpoints[0] for region_id, region in RocketMQRegion.static_fields.items()}
    assert dict(dms.REGION_ENDPOINTS) == sdk
    assert dms.REGION_ENDPOINTS["eu-west-101"] == "https://dms.eu-west-101.myhuaweicloud.eu"


def test_region_resolves_endpoint_and_env_override() -> None:
    """region= picks the endpoint; HUAWEICLOUD_SDK_REGION_ROCKETMQ_<REGION> overrides it, as in the SDK."""
    settings = resolve_settings(region="la-south-2", project_id="p", instance_id="i", ak="a", sk="s", environ={})
    assert settings.endpoint == "https://dms.la-south-2.myhuaweicloud.com"
    env = {"HUAWEICLOUD_SDK_REGION_ROCKETMQ_LA_SOUTH_2": "https://proxy.example/"}
    settings = resolve_settings(region="la-south-2", project_id="p", instance_id="i", ak="a", sk="s", environ=env)
    assert settings.endpoint == "https://proxy.example"


def test_unknown_region_lists_known_ones() -> None:
    """An unknown region is a ConfigurationError that lists the regions and how to pass an endpoint."""
    with pytest.raises(dms.ConfigurationError, match=r"cn-north-4.*DMS_ROCKETMQ_ENDPOINT"):
        resolve_settings(region="mars-1", project_id="p", instance_id="i", ak="a", sk="s", environ={})


def test_everything_from_environment() -> None:
    """With no arguments every setting comes from the SDK's and the project's environment variables."""
    env = {
        "DMS_ROCKETMQ_REGION": "cn-north-4",
        "HUAWEICLOUD_SDK_PROJECT_ID": "proj",
        "DMS_ROCKETMQ_INSTANCE_ID": "inst",
        "DMS_ROCKETMQ_ENGINE": "reliability",
        "HUAWEICLOUD_SDK_AK": "ak",
        "HUAWEICLOUD_SDK_SK": "sk",
        "HUAWEICLOUD_SDK_SECURITY_TOKEN": "st",
    }
    s = resolve_settings(environ=env)
    assert (s.endpoint, s.project_id, s.instance_id, s.engine) == (
        "https://dms.cn-north-4.myhuaweicloud.com",
        "proj",
        "inst",
        "reliability",
    )
    assert (s.ak, s.sk, s.security_token, s.token) == ("ak", "sk", "st", None)


def test_arguments_win_over_environment() -> None:
    """An explicit argument beats its variable; explicit credentials ignore credentials in the environment."""
    env = {"DMS_ROCKETMQ_ENDPOINT": "https://env", "HUAWEICLOUD_SDK_AK": "env-ak", "HUAWEICLOUD_SDK_SK": "env-sk"}
    s = resolve_settings(**BASE, token="tok", environ=env)
    assert (s.endpoint, s.token, s.ak) == ("https://h", "tok", None)


def test_token_from_environment() -> None:
    """DMS_ROCKETMQ_TOKEN selects token authentication when no AK/SK is configured."""
    assert resolve_settings(**BASE, environ={"DMS_ROCKETMQ_TOKEN": "tok"}).token == "tok"


@pytest.mark.parametrize(
    ("kwargs", "argument", "variable"),
    [
        ({"project_id": "p", "instance_id": "i", "ak": "a", "sk": "s"}, "endpoint=", "DMS_ROCKETMQ_ENDPOINT"),
        ({"endpoint": "https://h", "instance_id": "i", "ak": "a", "sk": "s"}, "project_id=", ENV["project_id"]),
        ({"endpoint": "https://h", "project_id": "p", "ak": "a", "sk": "s"}, "instance_id=", ENV["instance_id"]),
        ({**BASE, "ak": "a"}, "sk=", "HUAWEICLOUD_SDK_SK"),
        ({**BASE, "sk": "s"}, "ak=", "HUAWEICLOUD_SDK_AK"),
        (BASE, "token=", "DMS_ROCKETMQ_TOKEN"),
    ],
)
def test_missing_setting_names_argument_and_variable(kwargs: dict[str, str], argument: str, variable: str) -> None:
    """Each missing required setting raises ConfigurationError naming the argument and the variable."""
    with pytest.raises(dms.ConfigurationError) as caught:
        resolve_settings(**kwargs, environ={})
    assert argument in str(caught.value)
    assert variable in str(caught.value)


def test_invalid_values() -> None:
    """A bad engine, an endpoint without scheme, and AK/SK together with a token are refused."""
    with pytest.raises(dms.ConfigurationError, match="rocketmq, reliability"):
        resolve_settings(**BASE, ak="a", sk="s", engine="kafka", environ={})
    with pytest.raises(dms.ConfigurationError, match="https://"):
        resolve_settings(endpoint="dms.example", project_id="p", instance_id="i", ak="a", sk="s", environ={})
    with pytest.raises(dms.ConfigurationError, match="not both"):
        resolve_settings(**BASE, ak="a", sk="s", token="t", environ={})


def test_secrets_never_in_repr() -> None:
    """Neither the settings nor the clients show the secret key or the token in their repr."""
    with dms.Client(**BASE, ak="visible-ak", sk="hidden-secret-1", security_token="hidden-st", environ={}) as c:
        assert "hidden-secret-1" not in repr(c)
        assert "hidden-st" not in repr(c)
        assert "visible-ak" in repr(c)
    with dms.Client(**BASE, token="hidden-token-2", environ={}) as c:
        assert "hidden-token-2" not in repr(c.settings)


@pytest.mark.parametrize("timeout", [0, -1, float("nan"), "10", True])
def test_invalid_timeout(timeout: object) -> None:
    """A timeout that is not a positive number of seconds (or None, or an httpx.Timeout) is refused."""
    with pytest.raises(dms.ConfigurationError, match="timeout"):
        dms.Client(**BASE, ak="a", sk="s", timeout=timeout, environ={})  # type: ignore[arg-type]


@pytest.mark.parametrize("endpoint", ["http://[", "https://]x", "http://a]b", "https://[::1]x"])
def test_an_endpoint_the_standard_library_cannot_split_is_refused(endpoint: str) -> None:
    """An unbalanced bracket (which httpx lets through, and the signer, the proxy lookup and the telemetry's
    `urlsplit` refuse) is a ConfigurationError naming the endpoint, when the client is made."""
    with pytest.raises(dms.ConfigurationError, match="is not a valid URL"):
        resolve_settings(endpoint=endpoint, project_id="p", instance_id="i", ak="a", sk="s", environ={})
    with pytest.raises(dms.ConfigurationError, match="is not a valid URL"):
        dms.Client(endpoint=endpoint, project_id="p", instance_id="i", ak="a", sk="s", environ={})
