"""api.token, api.token_file and api.socket in the configuration: messages word for word."""

import pytest

from netevd.config import ConfigError, parse_config, render_config
from netevd.core.config import ApiConfig

TOKEN = "0123456789abcdef"


def errors_of(api: object) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config({"api": api}, env={})
    return caught.value.errors


@pytest.mark.parametrize(
    ("api", "message"),
    [
        ({"token": 123}, "api.token: must be a string, got 123"),
        ({"token": "short"}, "api.token: is too short (5 characters); use at least 16"),
        (
            {"token": "has a space inside it"},
            "api.token: must be printable ASCII without spaces (the value is not shown)",
        ),
        (
            {"token_file": "token"},
            "api.token_file: 'token' is not an absolute path (or \"\" for none)",
        ),
        (
            {"socket": "run/api.sock"},
            "api.socket: 'run/api.sock' is not an absolute path (or \"\" for none)",
        ),
        (
            {"token": TOKEN, "token_file": "/etc/netevd/token"},
            "api.token_file: give api.token or api.token_file, not both",
        ),
    ],
)
def test_errors(api, message):
    assert errors_of(api) == [message]


def test_a_bad_token_is_never_echoed():
    secret = "s e c r e t s e c r e t"
    assert all(secret not in error for error in errors_of({"token": secret}))


def test_values_and_defaults():
    assert parse_config({}, env={}).config.api == ApiConfig()
    api = {"token": TOKEN, "socket": "/run/netevd/api.sock", "bind_address": "0.0.0.0"}
    config = parse_config({"api": api}, env={}).config
    assert config.api == ApiConfig(
        bind_address="0.0.0.0", token=TOKEN, socket="/run/netevd/api.sock"
    )
    assert parse_config({"api": {"token": "", "token_file": ""}}, env={}).config.api == ApiConfig()


def test_rendered_configuration_loads_back():
    config = parse_config({"api": {"token_file": "/etc/netevd/api-token"}}, env={}).config
    import yaml

    assert parse_config(yaml.safe_load(render_config(config)), env={}).config == config
