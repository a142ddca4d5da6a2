"""Query parameter rules: the 400 messages, word for word."""

import pytest
from multidict import MultiDict

from netevd.api.params import EventQuery, ParamError, RouteQuery, RuleQuery, last_event_id
from netevd.core.model import AF_INET, AF_INET6

TYPES = (
    "link, link-removed, address-added, address-removed, route-added, route-removed, "
    "rule-added, rule-removed, neighbor, replay, resync, manager-link, manager, vpn, lease, "
    "lease-lost, source, config, routing, service-call"
)


def q(*pairs):
    return MultiDict(pairs)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        (q(("limit", "abc")), "query parameter limit='abc' must be an integer from 1 to 1000"),
        (q(("limit", "0")), "query parameter limit='0' must be an integer from 1 to 1000"),
        (q(("limit", "1001")), "query parameter limit='1001' must be an integer from 1 to 1000"),
        (q(("limit", "1.5")), "query parameter limit='1.5' must be an integer from 1 to 1000"),
        (q(("limit", "--5")), "query parameter limit='--5' must be an integer from 1 to 1000"),
        (
            q(("since", "-1")),
            "query parameter since='-1' must be an integer from 0 to 9223372036854775807",
        ),
        (q(("type", "bogus")), f"query parameter type='bogus' must be one of {TYPES}"),
        (
            q(("interface", "")),
            "query parameter interface is empty; leave it out to match everything",
        ),
        (
            q(("limit", "1"), ("limit", "2")),
            "query parameter limit is given 2 times; give it once",
        ),
    ],
)
def test_event_query_errors(query, message):
    with pytest.raises(ParamError) as info:
        EventQuery.parse(query)
    assert str(info.value) == message


def test_event_query_values():
    parsed = EventQuery.parse(q(("limit", "5"), ("since", "7"), ("type", "link"), ("x", "y")))
    assert parsed == EventQuery(limit=5, since=7, interface=None, type="link")
    assert EventQuery.parse(q()).limit == 100


@pytest.mark.parametrize(
    ("query", "message"),
    [
        (q(("family", "ipv4")), "query parameter family='ipv4' must be one of 4, 6, inet, inet6"),
        (
            q(("table", "main")),
            "query parameter table='main' must be an integer from 0 to 4294967295",
        ),
        (
            q(("table", "4294967296")),
            "query parameter table='4294967296' must be an integer from 0 to 4294967295",
        ),
    ],
)
def test_route_query_errors(query, message):
    with pytest.raises(ParamError) as info:
        RouteQuery.parse(query)
    assert str(info.value) == message


@pytest.mark.parametrize(("raw", "family"), [("4", AF_INET), ("inet", AF_INET), ("6", AF_INET6)])
def test_families(raw, family):
    assert RuleQuery.parse(q(("family", raw))).family == family
    assert RouteQuery.parse(q(("family", raw), ("table", "254"))).table == 254


def test_long_values_are_cut_in_messages():
    with pytest.raises(ParamError) as info:
        EventQuery.parse(q(("limit", "9" * 200)))
    assert "'" + "9" * 64 + "...'" in str(info.value)


def test_last_event_id():
    assert last_event_id(None, 4) == 4
    assert last_event_id(" 12 ", 4) == 12
    with pytest.raises(ParamError) as info:
        last_event_id("abc", None)
    assert str(info.value) == (
        "header Last-Event-ID='abc' must be an event sequence number "
        "(an integer from 0 to 9223372036854775807)"
    )
