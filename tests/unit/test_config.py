"""The configuration loader: error messages are part of the interface and are asserted verbatim."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from netevd import config as config_module
from netevd.config import ConfigError, LoadResult, load_config, parse_config, render_config
from netevd.core.config import (
    ApiConfig,
    BackendsConfig,
    Config,
    DhclientConfig,
    Filter,
    FilterMatch,
    MonitoringConfig,
    NetworkdConfig,
    RoutingConfig,
    ScriptsConfig,
    SystemConfig,
)
from netevd.core.filters import (
    ConditionError,
    DnsCount,
    HasGateway,
    InterfaceIs,
    evaluate,
    parse_condition,
)

DATA = Path(__file__).parent / "data" / "config"
EXAMPLE = Path(__file__).parents[2] / "examples" / "netevd.yaml"
GRAMMAR = '(atoms: has_gateway, dns_count >= N, interface == "name"; joined by && or ||)'
TOML_DEPRECATED = (
    "network-broker TOML is deprecated; write /etc/netevd/netevd.yaml in the current schema"
    " (netevd validate prints it)"
)


def parse(text: str, *, strict: bool = False, env: dict[str, str] | None = None) -> LoadResult:
    return parse_config(yaml.safe_load(textwrap.dedent(text)), env=env or {}, strict=strict)


def errors_of(text: str, *, strict: bool = False, env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse(text, strict=strict, env=env)
    assert str(caught.value) == "\n".join(caught.value.errors)
    return caught.value.errors


# --- malformed values ----------------------------------------------------------------------------

MALFORMED = [
    (
        "system: {backend: foo}",
        "system.backend: 'foo' is not allowed; choose one of systemd-networkd, NetworkManager,"
        " dhclient, none, auto",
    ),
    (
        "system: {backend: networkmanager}",
        "system.backend: 'networkmanager' is not allowed; choose one of systemd-networkd,"
        " NetworkManager, dhclient, none, auto",
    ),
    (
        "system: {log_level: loud}",
        "system.log_level: 'loud' is not allowed; choose one of trace, debug, info, warn, error",
    ),
    ("scripts: {timeout: -1}", "scripts.timeout: -1 must be a number greater than 0"),
    ("scripts: {timeout: 0}", "scripts.timeout: 0 must be a number greater than 0"),
    ("scripts: {timeout: '30'}", "scripts.timeout: '30' must be a number greater than 0"),
    ("scripts: {timeout: .nan}", "scripts.timeout: nan must be a number greater than 0"),
    ("scripts: {max_parallel: 0}", "scripts.max_parallel: 0 must be an integer from 1 to 1024"),
    ("scripts: {max_parallel: 2.5}", "scripts.max_parallel: 2.5 must be an integer from 1 to 1024"),
    (
        "scripts: {routes_debounce_ms: 60001}",
        "scripts.routes_debounce_ms: 60001 must be an integer from 0 to 60000",
    ),
    (
        "scripts: {shutdown_grace: -0.5}",
        "scripts.shutdown_grace: -0.5 must be a number greater than or equal to 0",
    ),
    (
        "scripts: {run_startup_triggers: 'true'}",
        "scripts.run_startup_triggers: 'true' must be true or false",
    ),
    ("api: {port: 70000}", "api.port: 70000 is not a port number (1-65535)"),
    ("api: {port: true}", "api.port: true is not a port number (1-65535)"),
    ("api: {enabled: maybe}", "api.enabled: 'maybe' must be true or false"),
    (
        "api: {bind_address: example.com}",
        "api.bind_address: 'example.com' is not an IP address or localhost",
    ),
    ("metrics: {enabled: 1}", "metrics.enabled: 1 must be true or false"),
    (
        "monitoring: {interfaces: 42}",
        "monitoring.interfaces: must be a list of interface names or globs, got 42",
    ),
    (
        "monitoring: {interfaces: eth0}",
        "monitoring.interfaces: must be a list of interface names or globs, got 'eth0'",
    ),
    (
        "monitoring: {exclude: ['abcdefghijklmnop']}",
        "monitoring.exclude[0]: 'abcdefghijklmnop' is not an interface name",
    ),
    ("routing: [eth0]", "routing: must be a mapping, got a list"),
    (
        "routing: {policy_rules: [eth0, eth0/1]}",
        "routing.policy_rules[1]: 'eth0/1' is not an interface name",
    ),
    (
        "routing: {table_base: 0}",
        "routing.table_base: 0 must be an integer from 1 to 2147483647",
    ),
    (
        "routing: {table_base: 2147483648}",
        "routing.table_base: 2147483648 must be an integer from 1 to 2147483647",
    ),
    (
        "system: {netlink_rcvbuf: 1024}",
        "system.netlink_rcvbuf: 1024 must be an integer from 4096 to 1073741824",
    ),
    (
        "system: {script_dirs: /etc/netevd}",
        "system.script_dirs: must be a list of absolute paths, got '/etc/netevd'",
    ),
    (
        "system: {script_dirs: [/etc/netevd, scripts]}",
        "system.script_dirs[1]: 'scripts' is not an absolute path",
    ),
    ("system: {state_dir: var/lib}", "system.state_dir: 'var/lib' is not an absolute path"),
    (
        "system: {user: Admin}",
        "system.user: 'Admin' is not a user name (lower-case letters, digits, _ and -,"
        ' at most 32; "" keeps the starting user)',
    ),
    (
        "backends: {dhclient: {use_dns: 'no'}}",
        "backends.dhclient.use_dns: 'no' must be true or false",
    ),
    (
        "backends: {systemd_networkd: true}",
        "backends.systemd_networkd: must be a mapping, got true",
    ),
    ("filters: {action: ignore}", "filters: must be a list of filters, got a mapping"),
    ("filters: [ignore]", "filters[0]: must be a mapping, got 'ignore'"),
    (
        "filters: [{action: run}]",
        "filters[0].action: 'run' is not allowed; choose one of execute, ignore, log",
    ),
    (
        "filters: [{match_rule: {condition: foo bar}}]",
        f"filters[0].match_rule.condition: cannot parse 'foo bar' {GRAMMAR}",
    ),
    (
        "filters: [{match: {ip_family: inet}}]",
        "filters[0].match.ip_family: 'inet' is not allowed; choose one of ipv4, ipv6, any",
    ),
    (
        "filters: [{match_rule: {backend: networkd}}]",
        "filters[0].match_rule.backend: 'networkd' is not allowed; choose one of"
        " systemd-networkd, NetworkManager, dhclient, kernel",
    ),
    (
        "filters: [{match_rule: {}, match: {}}]",
        "filters[0]: give match_rule or match, not both",
    ),
]


@pytest.mark.parametrize(("text", "message"), MALFORMED)
def test_a_bad_value_is_one_error_naming_key_value_and_what_is_allowed(text, message):
    assert errors_of(text) == [message]


def test_all_errors_are_collected_before_raising():
    errors = errors_of(
        """
        system: {backend: foo, log_level: loud}
        scripts: {timeout: -1, max_parallel: 0}
        api: {port: 70000, enabled: maybe}
        routing: {policy_rules: [eth0, eth0/1, 'a b']}
        filters:
          - match_rule: {condition: foo bar}
            action: execute
        """
    )
    assert errors == [
        "system.backend: 'foo' is not allowed; choose one of systemd-networkd, NetworkManager,"
        " dhclient, none, auto",
        "system.log_level: 'loud' is not allowed; choose one of trace, debug, info, warn, error",
        "scripts.timeout: -1 must be a number greater than 0",
        "scripts.max_parallel: 0 must be an integer from 1 to 1024",
        "api.port: 70000 is not a port number (1-65535)",
        "api.enabled: 'maybe' must be true or false",
        "routing.policy_rules[1]: 'eth0/1' is not an interface name",
        "routing.policy_rules[2]: 'a b' is not an interface name",
        f"filters[0].match_rule.condition: cannot parse 'foo bar' {GRAMMAR}",
    ]


@pytest.mark.parametrize("name", ["eth0", "a" * 15, "é" * 7, "veth*", "en[ps]*", "x$(id)"])
def test_interface_names_follow_the_kernel_rule(name):
    assert parse(f"monitoring: {{interfaces: ['{name}']}}").config.monitoring.interfaces == (name,)


@pytest.mark.parametrize("name", ["", ".", "..", "a" * 16, "é" * 8, "a:1", "a\tb"])
def test_names_the_kernel_refuses_are_errors(name):
    assert errors_of(yaml.safe_dump({"monitoring": {"exclude": [name]}})) == [
        f"monitoring.exclude[0]: {name!r} is not an interface name"
    ]


def test_accepted_values_are_converted_to_the_dataclass_types():
    config = parse(
        """
        system: {log_level: warning, user: "", script_dirs: []}
        scripts: {timeout: 5, shutdown_grace: 0}
        api: {bind_address: "::1", port: 1}
        routing:
        """
    ).config
    assert config.system == SystemConfig(log_level="warn", user="", script_dirs=())
    assert config.scripts == ScriptsConfig(timeout=5.0, shutdown_grace=0.0)
    assert isinstance(config.scripts.timeout, float)
    assert config.api == ApiConfig(bind_address="::1", port=1)
    assert config.routing == RoutingConfig()


# --- unknown keys ------------------------------------------------------------------------------


def test_unknown_keys_are_warnings_with_their_full_path():
    result = parse(
        """
        api: {address: 0.0.0.0}
        audit: {enabled: true}
        backends: {networkmanager: {managed: true}}
        filters: [{match_rule: {interfce: eth0}}]
        """
    )
    assert result.config == Config(filters=(Filter(),))
    assert result.warnings == (
        "unknown key api.address (ignored); did you mean api.bind_address?",
        "unknown key audit (ignored)",
        "unknown key backends.networkmanager.managed (ignored)",
        "unknown key filters[0].match_rule.interfce (ignored); did you mean"
        " filters[0].match_rule.interface?",
    )


def test_strict_makes_unknown_keys_errors():
    assert errors_of("api: {address: 0.0.0.0}\nmetrcs: {}\n", strict=True) == [
        "unknown key api.address; did you mean api.bind_address?",
        "unknown key metrcs; did you mean metrics?",
    ]


def test_did_you_mean_ignores_case():
    assert parse("system: {Log_Level: info}").warnings[-1] == (
        "unknown key system.Log_Level (ignored); did you mean system.log_level?"
    )


# --- filters and conditions ----------------------------------------------------------------------


def test_filters_load_with_match_rule_or_match_and_warn_about_scripts():
    result = parse(
        """
        filters:
          - match_rule: {interface_pattern: "docker*"}
            action: ignore
          - match:
              event_type: routable
              ip_family: ipv4
              backend: kernel
              condition: 'has_gateway && dns_count >= 1 || interface == "wg0"'
            action: log
            scripts: [/etc/netevd/x.sh]
          - {}
        """
    )
    assert result.config.filters == (
        Filter(FilterMatch(interface_pattern="docker*"), "ignore"),
        Filter(
            FilterMatch(
                event_type="routable",
                ip_family="ipv4",
                backend="kernel",
                condition='has_gateway && dns_count >= 1 || interface == "wg0"',
            ),
            "log",
        ),
        Filter(),
    )
    assert result.warnings == (
        "filters[1].scripts is ignored; netevd runs the scripts of the event's directory",
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("has_gateway", ((HasGateway(),),)),
        ("dns_count>=2", ((DnsCount(">=", 2),),)),
        ('interface="eth0"', ((InterfaceIs("eth0"),),)),
        (
            ' has_gateway && dns_count < 3 || interface == "wg0" ',
            ((HasGateway(), DnsCount("<", 3)), (InterfaceIs("wg0"),)),
        ),
    ],
)
def test_conditions_parse_into_clauses(text, expected):
    assert parse_condition(text).clauses == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("foo bar", f"cannot parse 'foo bar' {GRAMMAR}"),
        ("", f"cannot parse '' {GRAMMAR}"),
        (
            "has_gateway && dns_count = 2",
            f"cannot parse 'has_gateway && dns_count = 2' at 'dns_count = 2' {GRAMMAR}",
        ),
        (
            "has_gateway ||",
            f"cannot parse 'has_gateway ||' (an operand of && or || is missing) {GRAMMAR}",
        ),
        ("(has_gateway)", f"cannot parse '(has_gateway)' {GRAMMAR}"),
        ("interface == eth0", f"cannot parse 'interface == eth0' {GRAMMAR}"),
    ],
)
def test_bad_conditions_name_the_grammar(text, message):
    with pytest.raises(ConditionError) as caught:
        parse_condition(text)
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("text", "gateway", "dns", "name", "expected"),
    [
        ("has_gateway", True, 0, "eth0", True),
        ("has_gateway", False, 0, "eth0", False),
        ("dns_count >= 2", False, 2, "eth0", True),
        ("dns_count > 2", False, 2, "eth0", False),
        ("dns_count <= 0", False, 0, "eth0", True),
        ("dns_count < 1", False, 1, "eth0", False),
        ("dns_count == 3", False, 3, "eth0", True),
        ('interface == "eth0"', False, 0, "eth0", True),
        ('interface == "eth0"', False, 0, "eth1", False),
        ('has_gateway && interface == "eth0"', True, 0, "eth1", False),
        # && binds tighter than ||.
        ('has_gateway && dns_count > 5 || interface == "eth1"', True, 0, "eth1", True),
        ('has_gateway && dns_count > 5 || interface == "eth1"', True, 0, "eth0", False),
    ],
)
def test_conditions_evaluate(text, gateway, dns, name, expected):
    result = evaluate(parse_condition(text), has_gateway=gateway, dns_count=dns, interface=name)
    assert result is expected


# --- environment -------------------------------------------------------------------------------


def test_environment_overrides_win_over_the_file():
    env = {
        "NETEVD_LOG_LEVEL": "trace",
        "NETEVD_BACKEND": "none",
        "NETEVD_API_ENABLED": "OFF",
        "NETEVD_API_BIND_ADDRESS": "::",
        "NETEVD_API_PORT": "8080",
        "NETEVD_METRICS_ENABLED": "0",
        "NETEVD_AUDIT_ENABLED": "nonsense",  # upstream's; not read
    }
    config = parse("system: {log_level: error, backend: dhclient}\napi: {port: 1}", env=env).config
    assert (config.system.log_level, config.system.backend) == ("trace", "none")
    assert config.api == ApiConfig(enabled=False, bind_address="::", port=8080)
    assert config.metrics.enabled is False


@pytest.mark.parametrize("value", ["true", "Yes", "ON", "1"])
def test_environment_booleans_accept_the_usual_spellings(value):
    config = parse("api: {enabled: false}", env={"NETEVD_API_ENABLED": value}).config
    assert config.api.enabled is True


def test_an_empty_environment_variable_counts_as_unset():
    assert parse("api: {port: 1}", env={"NETEVD_API_PORT": ""}).config.api.port == 1


def test_bad_environment_values_name_the_variable():
    env = {
        "NETEVD_LOG_LEVEL": "loud",
        "NETEVD_BACKEND": "systemd",
        "NETEVD_API_ENABLED": "maybe",
        "NETEVD_API_BIND_ADDRESS": "localhost:80",
        "NETEVD_API_PORT": "abc",
        "NETEVD_METRICS_ENABLED": "2",
    }
    assert errors_of("api: {port: 0}", env=env) == [
        "api.port: 0 is not a port number (1-65535)",
        "NETEVD_LOG_LEVEL: 'loud' is not allowed; choose one of trace, debug, info, warn, error",
        "NETEVD_BACKEND: 'systemd' is not allowed; choose one of systemd-networkd,"
        " NetworkManager, dhclient, none, auto",
        "NETEVD_API_ENABLED: 'maybe' must be true or false (or yes/no, on/off, 1/0)",
        "NETEVD_API_BIND_ADDRESS: 'localhost:80' is not an IP address or localhost",
        "NETEVD_API_PORT: 'abc' is not a port number (1-65535)",
        "NETEVD_METRICS_ENABLED: '2' must be true or false (or yes/no, on/off, 1/0)",
    ]


@pytest.mark.parametrize("value", ["0", "65536", "-1", "80.0", "1e3"])
def test_environment_ports_are_decimal_numbers_in_range(value):
    assert errors_of("", env={"NETEVD_API_PORT": value}) == [
        f"NETEVD_API_PORT: {value!r} is not a port number (1-65535)"
    ]


def test_the_process_environment_is_used_when_none_is_given(monkeypatch):
    monkeypatch.setenv("NETEVD_API_PORT", "9999")
    assert parse_config({}).config.api.port == 9999


# --- older forms -------------------------------------------------------------------------------

EXPECTED_LEGACY = Config(
    system=SystemConfig(log_level="debug", backend="systemd-networkd"),
    monitoring=MonitoringConfig(interfaces=("eth0", "eth1")),
    routing=RoutingConfig(policy_rules=("eth1",)),
    backends=BackendsConfig(
        systemd_networkd=NetworkdConfig(emit_json=True),
        dhclient=DhclientConfig(use_dns=True, use_domain=False, use_hostname=True),
    ),
)


def test_the_current_schema_example_loads():
    result = load_config(DATA / "current.yaml", {}, strict=True)
    assert result.config == EXPECTED_LEGACY
    assert result.warnings == ()
    assert result.source == str(DATA / "current.yaml")


def test_early_netevd_yaml_loads_to_the_same_config_with_one_warning_per_key():
    result = load_config(DATA / "early-netevd.yaml", {}, strict=True)
    assert result.config == load_config(DATA / "current.yaml", {}).config
    assert result.warnings == (
        "system.generator is deprecated; write system.backend",
        "network.links is deprecated; write monitoring.interfaces",
        "network.routing_policy_rules is deprecated; write routing.policy_rules",
        "network.emit_json is deprecated; write backends.systemd_networkd.emit_json",
        "network.use_dns is deprecated; write backends.dhclient.use_dns",
        "network.use_hostname is deprecated; write backends.dhclient.use_hostname",
    )


def test_network_broker_toml_loads_to_the_same_config_with_one_warning():
    result = load_config(DATA / "network-broker.toml", {}, strict=True)
    assert result.config == load_config(DATA / "current.yaml", {}).config
    assert result.warnings == (TOML_DEPRECATED,)


def test_network_broker_toml_details(tmp_path):
    path = tmp_path / "nb.toml"
    path.write_text('[system]\nloglevel = "PANIC"\nLogFormat = "json"\n[Network]\nLinks = ""\n')
    result = load_config(path, {})
    assert result.config.system.log_level == "error"
    assert result.config.monitoring.interfaces == ()
    assert result.warnings == (
        TOML_DEPRECATED,
        "system.LogFormat is ignored; netevd chooses its log format itself",
    )


def test_network_broker_errors_name_the_keys_as_written(tmp_path):
    path = tmp_path / "nb.toml"
    path.write_text(
        '[System]\nGenerator = "networkd"\nLogLevel = "loud"\nLogLevl = "x"\n'
        '[Network]\nLinks = 5\nRoutingPolicyRules = "eth0 a/b"\nUseDNS = "yes"\n[Extra]\n'
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path, {}, strict=True)
    assert caught.value.errors == [
        "System.Generator: 'networkd' is not allowed; choose one of systemd-networkd,"
        " NetworkManager, dhclient",
        "unknown key System.LogLevl; did you mean System.LogLevel?",
        "Network.Links: must be a space-separated string of interface names, got 5",
        "unknown key Extra",
        "System.LogLevel: 'loud' is not allowed; choose one of trace, debug, info, warn, error",
        "Network.RoutingPolicyRules[1]: 'a/b' is not an interface name",
        "Network.UseDNS: 'yes' must be true or false",
    ]


def test_network_broker_yaml_with_pascal_case_sections_is_read_like_the_toml():
    result = parse("System: {Generator: dhclient}\nNetwork: {Links: [eth0]}")
    assert result.config.system.backend == "dhclient"
    assert result.config.monitoring.interfaces == ("eth0",)
    assert result.warnings == (TOML_DEPRECATED.replace("TOML", "YAML"),)


def test_early_yaml_errors_name_the_legacy_key():
    assert errors_of(
        "network: {links: 'eth0 eth0/1', emit_json: 'yes', speed: 1}", strict=True
    ) == [
        "unknown key network.speed",
        "network.links[1]: 'eth0/1' is not an interface name",
        "network.emit_json: 'yes' must be true or false",
    ]


def test_early_yaml_accepts_a_list_of_links_and_an_empty_network_section():
    assert parse("network: {links: [eth0]}").config.monitoring.interfaces == ("eth0",)
    assert parse("network:\nsystem: {generator: dhclient}").config.system.backend == "dhclient"


def test_legacy_and_current_keys_must_agree():
    same = parse("network: {links: 'eth0 eth1'}\nmonitoring: {interfaces: [eth0, eth1]}")
    assert same.config.monitoring.interfaces == ("eth0", "eth1")
    assert errors_of("system: {generator: dhclient, backend: NetworkManager}") == [
        "system.generator and system.backend are both given and differ; keep only system.backend"
    ]


def test_early_yaml_with_a_bad_network_section():
    assert errors_of("network: [eth0]") == ["network: must be a mapping, got a list"]


def test_parse_config_does_not_modify_its_input():
    data = yaml.safe_load((DATA / "early-netevd.yaml").read_text())
    before = repr(data)
    parse_config(data, env={})
    assert repr(data) == before


# --- files -------------------------------------------------------------------------------------


def test_a_missing_default_file_means_defaults(tmp_path, monkeypatch):
    monkeypatch.setattr(config_module, "DEFAULT_PATH", str(tmp_path / "absent.yaml"))
    result = load_config(None, {"NETEVD_API_PORT": "1234"})
    assert result == LoadResult(Config(api=ApiConfig(port=1234)), (), "defaults")


def test_the_default_file_is_read_when_present(tmp_path, monkeypatch):
    path = tmp_path / "netevd.yaml"
    path.write_text("api: {port: 1}\n")
    monkeypatch.setattr(config_module, "DEFAULT_PATH", str(path))
    assert load_config(env={}) == LoadResult(Config(api=ApiConfig(port=1)), (), str(path))


def test_an_explicit_missing_file_is_an_error():
    with pytest.raises(ConfigError) as caught:
        load_config("/x/y.yaml", {})
    assert caught.value.errors == ["config file /x/y.yaml: No such file or directory"]


def test_a_directory_is_an_error(tmp_path):
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path, {})
    assert caught.value.errors == [f"config file {tmp_path}: Is a directory"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            b"api:\n  port: 1\n   enabled: true\n",
            "line 3, column 11: mapping values are not allowed here",
        ),
        (
            b"system:\n  script_dirs: [/a,\n  user: x\nfoo: bar\n",
            "line 4, column 4: expected ',' or ']', but got ':'"
            " (while parsing a flow sequence that starts at line 2)",
        ),
        (b"api:\n  port: 1\napi:\n  port: 2\n", "line 3, column 1: duplicate key 'api'"),
        (
            b"a: !!python/name:os.system x\n",
            "line 1, column 4: could not determine a constructor"
            " for the tag 'tag:yaml.org,2002:python/name:os.system'",
        ),
        (b"api: {}\n\xff\n", "line 2: not UTF-8 text"),
    ],
)
def test_file_syntax_errors_name_file_and_line(tmp_path, content, message):
    path = tmp_path / "netevd.yaml"
    path.write_bytes(content)
    with pytest.raises(ConfigError) as caught:
        load_config(path, {})
    assert caught.value.errors == [f"config file {path}, {message}"]


def test_a_toml_syntax_error_names_file_and_line(tmp_path):
    path = tmp_path / "nb.toml"
    path.write_text("[System]\nLogLevel = \n")
    with pytest.raises(ConfigError) as caught:
        load_config(path, {})
    assert caught.value.errors == [f"config file {path}: Invalid value (at line 2, column 12)"]


@pytest.mark.parametrize("content", ["", "# only a comment\n", "null\n", "---\n"])
def test_an_empty_file_means_defaults(tmp_path, content):
    path = tmp_path / "netevd.yaml"
    path.write_text(content)
    assert load_config(path, {}).config == Config()


def test_a_top_level_that_is_not_a_mapping_is_an_error(tmp_path):
    path = tmp_path / "netevd.yaml"
    path.write_text("- system\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path, {})
    assert caught.value.errors == [f"{path}: the top level must be a mapping, got a list"]


# --- rendering ---------------------------------------------------------------------------------


def test_the_example_file_holds_every_key_at_its_default():
    data = yaml.safe_load(EXAMPLE.read_text())
    assert parse_config(data, env={}, strict=True) == LoadResult(Config(), (), "<string>")
    assert data == yaml.safe_load(render_config(Config()))


def test_render_is_the_current_schema_and_round_trips():
    config = parse(
        """
        system: {backend: NetworkManager, user: "", script_dirs: [/opt/x]}
        scripts: {timeout: 2.5}
        monitoring: {interfaces: ["en*", "wg0"], exclude: []}
        api: {bind_address: "::1"}
        filters:
          - match: {interface: eth0, condition: has_gateway}
            action: ignore
        """
    ).config
    text = render_config(config)
    assert (
        "match_rule:\n    interface: eth0\n    condition: has_gateway\n  action: ignore\n" in text
    )
    assert parse_config(yaml.safe_load(text), env={}, strict=True).config == config


def test_legacy_files_render_as_the_current_schema():
    legacy = load_config(DATA / "network-broker.toml", {}).config
    rendered = parse_config(yaml.safe_load(render_config(legacy)), env={}, strict=True)
    assert rendered == LoadResult(legacy, (), "<string>")


_NAMES = st.text("abcdefgh0123456789-*", min_size=1, max_size=15)
_CONFIGS = st.builds(
    Config,
    system=st.builds(
        SystemConfig,
        log_level=st.sampled_from(["trace", "debug", "info", "warn", "error"]),
        backend=st.sampled_from(["systemd-networkd", "NetworkManager", "dhclient", "none", "auto"]),
        user=st.sampled_from(["", "root", "netevd", "svc-1$"]),
    ),
    scripts=st.builds(
        ScriptsConfig,
        timeout=st.floats(min_value=0.001, max_value=1e6),
        max_parallel=st.integers(1, 1024),
        routes_debounce_ms=st.integers(0, 60000),
        run_startup_triggers=st.booleans(),
    ),
    monitoring=st.builds(
        MonitoringConfig,
        interfaces=st.lists(_NAMES, max_size=3).map(tuple),
        exclude=st.lists(_NAMES, max_size=3).map(tuple),
    ),
    routing=st.builds(RoutingConfig, table_base=st.integers(1, 2**31 - 1)),
    api=st.builds(ApiConfig, enabled=st.booleans(), port=st.integers(1, 65535)),
    filters=st.lists(
        st.builds(
            Filter,
            match=st.builds(FilterMatch, interface=st.none() | _NAMES),
            action=st.sampled_from(["execute", "ignore", "log"]),
        ),
        max_size=2,
    ).map(tuple),
)


@given(_CONFIGS)
def test_any_valid_config_round_trips_through_render(config):
    assert parse_config(yaml.safe_load(render_config(config)), env={}).config == config


def test_routing_keys_parse_and_render():
    loaded = parse(
        """
        routing:
          policy_rules: [eth1, "wan*"]
          to_rules: false
          tables: {eth1: 310, wan0: 2000}
          priority: 1000
          cleanup_on_exit: true
        """
    )
    routing = loaded.config.routing
    assert routing.tables == (("eth1", 310), ("wan0", 2000))
    assert (routing.to_rules, routing.priority, routing.cleanup_on_exit) == (False, 1000, True)
    again = parse_config(yaml.safe_load(render_config(loaded.config))).config
    assert again == loaded.config


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "routing: {tables: {eth1: 254}}",
            "routing.tables.eth1: 254 is the kernel's main table; choose 1-252 or 256 and up",
        ),
        (
            "routing: {tables: {eth1: 0}}",
            "routing.tables.eth1: 0 must be a table number from 1 to 4294967295",
        ),
        ("routing: {tables: {'a/b': 300}}", "routing.tables.a/b: 'a/b' is not an interface name"),
        (
            "routing: {tables: {eth1: 300, eth2: 300}}",
            "routing.tables.eth2: table 300 is already pinned to another interface",
        ),
        (
            "routing: {tables: [eth1]}",
            "routing.tables: must be a mapping of interface name to table, got a list",
        ),
        (
            "routing: {priority: 32765}",
            "routing.priority: 32765 must be an integer from 1 to 32764",
        ),
        ("routing: {to_rules: 'no'}", "routing.to_rules: 'no' must be true or false"),
    ],
)
def test_routing_errors(text, message):
    with pytest.raises(ConfigError) as info:
        parse(text)
    assert info.value.errors == [message]
