"""monitoring.routes as a rule (RouteFollow) and in words (/api/v1/status)."""

from netevd.config import parse_config
from netevd.core.follow import RouteFollow, route_follow
from netevd.core.model import Route


def follow_of(monitoring, routing=None):
    data = {"monitoring": monitoring, **({"routing": routing} if routing else {})}
    return route_follow(parse_config(data, env={}).config)


def test_all_is_the_default_and_follows_everything():
    follow = follow_of({})
    assert follow == RouteFollow()
    assert follow.everything
    assert follow.keeps(Route(2, 255, "10.0.0.1/32", protocol=2))
    assert follow.describe() == {
        "mode": "all",
        "tables": [],
        "followed": "every route of every table",
    }


def test_none_keeps_what_netevd_reads_and_drops_a_full_table():
    follow = follow_of({"routes": "none"})
    assert follow.keeps(Route(2, 254, "0.0.0.0/0", "10.0.0.1", 3, protocol=186))
    assert follow.keeps(Route(2, 254, "10.0.0.0/24", oif=3, protocol=2))  # on-link
    assert follow.keeps(Route(2, 210, "10.0.0.0/24", oif=3, protocol=78))  # netevd's own
    assert not follow.keeps(Route(2, 254, "10.9.0.0/16", "10.0.0.1", 3, protocol=186))
    assert not follow.keeps(Route(2, 255, "10.0.0.1/32", oif=3, protocol=2))  # table local
    assert not follow.keeps(Route(2, 300, "10.9.0.0/16", "10.0.0.1", 3, protocol=4))
    assert "proto kernel" in follow.describe()["followed"]


def test_tables_adds_the_listed_tables_and_reload_values_are_ignored_otherwise():
    follow = follow_of({"routes": "tables", "route_tables": [100, 70000]})
    assert follow.keeps(Route(2, 70000, "10.9.0.0/16", "10.0.0.1", 3, protocol=186))
    assert not follow.keeps(Route(2, 101, "10.9.0.0/16", "10.0.0.1", 3, protocol=186))
    assert follow.describe()["tables"] == [100, 70000]
    assert "tables 100, 70000" in follow.describe()["followed"]
    assert follow_of({"routes": "none", "route_tables": [100]}).tables == frozenset()


def test_policy_routing_keeps_every_table_but_the_shared_ones():
    follow = follow_of({"routes": "none"}, {"policy_rules": ["eth1"]})
    assert follow.other_tables
    assert follow.keeps(Route(2, 212, "10.9.0.0/16", "10.0.0.1", 3, protocol=4))
    assert not follow.keeps(Route(2, 254, "10.9.0.0/16", "10.0.0.1", 3, protocol=4))
    assert "policy routing" in follow.describe()["followed"]
