"""The networkd decoder on bodies recorded from the real systemd-networkd, and on lies.

``tests/unit/data/networkd`` holds what networkd v252 sent on its bus in a lab run (see
``record.py`` there): a DHCP client reaching routable, losing carrier (server side down), coming
back, admin down and up, and stopping.
"""

import json
from pathlib import Path

import pytest
from dbus_fast import Variant

from netevd.bus.values import Ignored, Malformation, Malformed, decode_name_owner_changed
from netevd.core.directories import directory_for
from netevd.core.networkd_states import STATE_VALUES
from netevd.sources.networkd.decode import (
    LinkUpdate,
    ListedLink,
    ManagerUpdate,
    decode_describe,
    decode_link_list,
    decode_properties,
    decode_properties_changed,
)

DATA = Path(__file__).parent.parent / "data" / "networkd"
LINK_IFACE = "org.freedesktop.network1.Link"
MANAGER_IFACE = "org.freedesktop.network1.Manager"
ETH0 = "/org/freedesktop/network1/link/_340"
LINK_PROPS = ("OperationalState", "AdministrativeState", "CarrierState", "OnlineState")


def variants(value):
    """The recording's {"variant": sig, "value": v} back into dbus-fast Variants."""
    if isinstance(value, dict) and set(value) == {"variant", "value"}:
        return Variant(value["variant"], variants(value["value"]))
    if isinstance(value, dict):
        return {k: variants(v) for k, v in value.items()}
    if isinstance(value, list):
        return [variants(v) for v in value]
    return value


def recorded_signals():
    lines = (DATA / "signals.jsonl").read_text().splitlines()
    return [variants(json.loads(line)) for line in lines]


def recorded_replies():
    return variants(json.loads((DATA / "replies.json").read_text()))


def changed(path, interface, props, signature="sa{sv}as"):
    return decode_properties_changed(path, signature, [interface, props, []])


def s(value):
    return Variant("s", value)


def test_every_recorded_signal_decodes():
    decoded = [
        decode_properties_changed(m["path"], m["signature"], m["body"])
        for m in recorded_signals()
        if m["member"] == "PropertiesChanged"
    ]
    assert decoded
    assert all(isinstance(d, LinkUpdate | ManagerUpdate) for d in decoded), decoded
    links = [d for d in decoded if isinstance(d, LinkUpdate)]
    assert {d.index for d in links} == {40}
    oper = [v for d in links for k, v in d.properties if k == "OperationalState"]
    assert oper == [
        "routable",
        "no-carrier",
        "carrier",
        "degraded",
        "routable",
        "off",
        "no-carrier",
        "carrier",
        "degraded",
        "routable",
    ]
    admin = [v for d in links for k, v in d.properties if k == "AdministrativeState"]
    assert admin == ["configured", "configuring", "configured", "configuring", "configured"]
    manager = [d for d in decoded if isinstance(d, ManagerUpdate)]
    assert [dict(d.properties)["OperationalState"] for d in manager][:2] == [
        "routable",
        "no-carrier",
    ]


def test_recorded_states_are_all_known_to_the_core():
    for message in recorded_signals():
        if message["member"] != "PropertiesChanged":
            continue
        decoded = decode_properties_changed(message["path"], message["signature"], message["body"])
        for name, value in decoded.properties:
            if name in STATE_VALUES:
                assert value in STATE_VALUES[name]


def test_link_update_keeps_networkds_values_as_sent():
    (first, *_) = [m for m in recorded_signals() if m["path"] == ETH0]
    decoded = decode_properties_changed(first["path"], first["signature"], first["body"])
    assert decoded == LinkUpdate(
        40,
        (
            ("OperationalState", "routable"),
            ("AddressState", "routable"),
            ("IPv4AddressState", "routable"),
        ),
    )


def test_name_owner_changed():
    owners = [
        decode_name_owner_changed(m["signature"], m["body"])
        for m in recorded_signals()
        if m["member"] == "NameOwnerChanged"
    ]
    assert owners == [("org.freedesktop.network1", ":1.2"), ("org.freedesktop.network1", "")]
    assert decode_name_owner_changed("ss", ["a", "b"]) is None


def test_list_links_reply():
    reply = recorded_replies()["ListLinks"]
    assert decode_link_list(reply["signature"], reply["body"]) == [
        ListedLink(40, "eth0", ETH0),
        ListedLink(1, "lo", "/org/freedesktop/network1/link/_31"),
    ]


def test_get_all_replies_skip_empty_and_unknown_properties():
    replies = recorded_replies()
    lo = decode_properties(replies["GetAll.Link.lo"]["body"][0], LINK_PROPS)
    assert lo == (
        ("OperationalState", "carrier"),
        ("AdministrativeState", "unmanaged"),
        ("CarrierState", "carrier"),
    )  # OnlineState is "" for lo; BitRates is not a state
    manager = decode_properties(replies["GetAll.Manager"]["body"][0], ("OperationalState",))
    assert manager == (("OperationalState", "routable"),)  # NamespaceId ignored


def test_describe_reply_is_kept_verbatim():
    reply = recorded_replies()["Describe.eth0"]
    text = decode_describe(reply["signature"], reply["body"], 40)
    assert text == reply["body"][0]
    assert json.loads(text)["Name"] == "eth0"


@pytest.mark.parametrize(
    ("props", "reason"),
    [
        ({"OperationalState": s("../../tmp/x")}, Malformation.VALUE),
        ({"OperationalState": s("Routable")}, Malformation.VALUE),
        ({"OperationalState": s("routable;id")}, Malformation.VALUE),
        ({"OperationalState": s("a" * 65)}, Malformation.VALUE),
        ({"OperationalState": Variant("u", 7)}, Malformation.TYPE),
        ({"OperationalState": Variant("as", ["routable"])}, Malformation.TYPE),
        ({"AdministrativeState": "configured"}, Malformation.TYPE),  # not even a variant
        # one lie taints the whole signal: configured must not fire on its word
        (
            {"AdministrativeState": s("configured"), "OperationalState": s("../x")},
            Malformation.VALUE,
        ),
    ],
)
def test_lies_in_link_properties(props, reason):
    decoded = changed(ETH0, LINK_IFACE, props)
    assert isinstance(decoded, Malformed)
    assert decoded.reason is reason


def test_wrong_signature_is_malformed():
    decoded = changed(ETH0, LINK_IFACE, {"OperationalState": "routable"}, signature="sa{ss}as")
    assert decoded == Malformed(
        Malformation.SIGNATURE, "PropertiesChanged with signature 'sa{ss}as'"
    )
    assert isinstance(decode_properties_changed(ETH0, "sa{sv}as", [LINK_IFACE]), Malformed)


@pytest.mark.parametrize("label", ["_3g", "_3", "12", "_30", "_2e_2e"])
def test_bad_link_path_is_malformed(label):
    decoded = changed(
        "/org/freedesktop/network1/link/" + label, LINK_IFACE, {"OperationalState": s("off")}
    )
    assert isinstance(decoded, Malformed)
    assert decoded.reason is Malformation.PATH


def test_well_formed_unknown_states_pass_to_the_core():
    decoded = changed(ETH0, LINK_IFACE, {"OperationalState": s("warp-speed")})
    assert decoded == LinkUpdate(40, (("OperationalState", "warp-speed"),))


@pytest.mark.parametrize(
    ("path", "interface", "props"),
    [
        (ETH0, "org.freedesktop.network1.DHCPServer", {"Leases": Variant("as", [])}),
        (ETH0, LINK_IFACE, {"BitRates": Variant("(tt)", [1, 2])}),
        (ETH0, LINK_IFACE, {}),
        ("/org/freedesktop/network1/network/_310_2dx", LINK_IFACE, {}),
        ("/org/freedesktop/network1", "org.freedesktop.network1.Other", {}),
        ("/org/freedesktop/network1", MANAGER_IFACE, {"NamespaceId": Variant("t", 5)}),
    ],
)
def test_what_netevd_does_not_follow_is_ignored(path, interface, props):
    assert isinstance(changed(path, interface, props), Ignored)


def test_manager_update():
    decoded = changed(
        "/org/freedesktop/network1",
        MANAGER_IFACE,
        {"OperationalState": s("degraded"), "OnlineState": s("partial")},
    )
    assert decoded == ManagerUpdate((("OperationalState", "degraded"), ("OnlineState", "partial")))
    bad = changed("/org/freedesktop/network1", MANAGER_IFACE, {"CarrierState": Variant("b", True)})
    assert isinstance(bad, Malformed)


@pytest.mark.parametrize(
    ("signature", "body", "reason"),
    [
        ("as", [["eth0"]], Malformation.SIGNATURE),
        ("a(iso)", [[[12, "eth0", "/org/freedesktop/network1/link/_32"]]], Malformation.LINK),
        ("a(iso)", [[[2, "x" * 16, "/org/freedesktop/network1/link/_32"]]], Malformation.LINK),
        ("a(iso)", [[[2, "", "/org/freedesktop/network1/link/_32"]]], Malformation.LINK),
        ("a(iso)", [[[2, "eth0", "/org/freedesktop/network1/link/_3"]]], Malformation.PATH),
    ],
)
def test_lies_in_list_links(signature, body, reason):
    decoded = decode_link_list(signature, body)
    assert isinstance(decoded, Malformed)
    assert decoded.reason is reason


@pytest.mark.parametrize(
    ("signature", "body"),
    [
        ("s", ["not json"]),
        ("s", ["[1, 2]"]),
        ("s", ['{"Index": 41}']),
        ("s", ['{"Index": 40, "Pad": "' + "x" * (16 * 1024 * 1024) + '"}']),
        ("i", [40]),
    ],
)
def test_lies_in_describe(signature, body):
    assert isinstance(decode_describe(signature, body, 40), Malformed)


@pytest.mark.parametrize(
    ("name", "value"), [(n, v) for n, values in STATE_VALUES.items() for v in sorted(values)]
)
def test_every_networkd_state_decodes_and_has_its_directory(name, value):
    assert directory_for(value) is not None
    assert changed(ETH0, LINK_IFACE, {name: s(value)}) == LinkUpdate(40, ((name, value),))
