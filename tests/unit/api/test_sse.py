"""The live event stream: replay after an id, then live events and script outcomes."""

import asyncio
import time

import aiohttp
from api_world import read_messages

from netevd.core.events import AddressAdded, LinkChanged
from netevd.core.model import AF_INET, Addr, Link


def address(n: int) -> AddressAdded:
    return AddressAdded(Addr(3, AF_INET, f"10.0.0.{n}", 24))


async def test_replay_then_live_with_scripts(make_api):
    api = await make_api()
    async with api.session.get(api.base + "/api/v1/events/stream?since=0") as response:
        assert response.status == 200
        assert response.headers["Content-Type"] == "text/event-stream; charset=utf-8"
        assert response.headers["Cache-Control"] == "no-cache"
        replay = await read_messages(response, 2)
        assert [(kind, data["seq"]) for kind, data in replay] == [("event", 1), ("event", 2)]
        api.engine.handle(address(20))
        api.finished(3, code=4)
        live = await read_messages(response, 2)
    (kind, event), (script_kind, script) = live
    assert kind == "event"
    assert event["seq"] == 3
    assert event["type"] == "address-added"
    assert event["link_name"] == "eth0"
    assert event["time"].endswith("Z")
    assert script_kind == "script"
    assert script["seq"] == 3
    assert script["exit_code"] == 4
    assert script["output"] == "hi\n"


async def test_ids_on_the_wire(make_api):
    api = await make_api()
    async with api.session.get(api.base + "/api/v1/events/stream?since=1") as response:
        raw = await response.content.readuntil(b"\n\n")  # retry: ...
        assert raw == b"retry: 2000\n\n"
        raw = await response.content.readuntil(b"\n\n")
    lines = raw.decode().splitlines()
    assert lines[0] == "id: 2"
    assert lines[1] == "event: event"
    assert lines[2].startswith('data: {"seq":2,')


async def test_last_event_id_header_wins_over_since(make_api):
    api = await make_api()
    for n in range(3):
        api.engine.handle(address(30 + n))
    headers = {"Last-Event-ID": "3"}
    url = api.base + "/api/v1/events/stream?since=0"
    async with api.session.get(url, headers=headers) as response:
        messages = await read_messages(response, 2)
    assert [data["seq"] for _, data in messages] == [4, 5]


async def test_an_id_from_before_a_restart_replays_the_buffer(make_api):
    api = await make_api()
    url = api.base + "/api/v1/events/stream"
    async with api.session.get(url, headers={"Last-Event-ID": "9999"}) as response:
        messages = await read_messages(response, 2)
    assert [data["seq"] for _, data in messages] == [1, 2]


async def test_filters_apply_to_events_and_their_scripts(make_api):
    api = await make_api()
    url = api.base + "/api/v1/events/stream?interface=eth0&type=address-added"
    async with api.session.get(url) as response:
        api.engine.handle(LinkChanged(Link(3, "eth0", 0x1, 1500)))  # seq 3: type link
        api.finished(3)
        api.engine.handle(address(40))  # seq 4
        api.finished(4)
        messages = await read_messages(response, 2)
    assert [(kind, data["seq"]) for kind, data in messages] == [("event", 4), ("script", 4)]


async def test_heartbeat_on_a_quiet_stream(make_api):
    api = await make_api(heartbeat=0.05)
    async with api.session.get(api.base + "/api/v1/events/stream") as response:
        assert await response.content.readuntil(b"\n\n") == b"retry: 2000\n\n"
        assert await response.content.readuntil(b"\n\n") == b": keepalive\n\n"


async def test_a_client_that_leaves_is_unsubscribed(make_api, wait_until):
    api = await make_api()
    log = api.engine.events
    async with api.session.get(api.base + "/api/v1/events/stream") as response:
        await response.content.readuntil(b"\n\n")
        assert len(log._subscribers) == 1
    await wait_until(lambda: not log._subscribers, 5, message="subscriber removed")


async def test_bad_last_event_id_is_400(make_api):
    api = await make_api()
    url = api.base + "/api/v1/events/stream"
    status, body = await api.get("/api/v1/events/stream", headers={"Last-Event-ID": "x"})
    assert status == 400
    assert body["error"].startswith("header Last-Event-ID='x' must be an event sequence number")
    assert url


async def test_stopping_the_server_ends_open_streams_at_once(make_api):
    api = await make_api()
    response = await api.session.get(api.base + "/api/v1/events/stream")
    await response.content.readuntil(b"\n\n")
    start = time.monotonic()
    await api.server.stop()
    assert time.monotonic() - start < 2  # not the 3 s shutdown timeout
    try:
        rest = await asyncio.wait_for(response.content.read(), 2)
    except aiohttp.ClientPayloadError:
        rest = b""
    assert rest == b""
    response.release()


async def test_a_filtered_stream_is_not_cut_off_by_a_storm_it_does_not_watch(make_api):
    """The soak's finding: the filter applied after the queue let 1,024 events of another
    interface overflow a stream of one interface; it is applied before the queue now."""
    api = await make_api()
    url = api.base + "/api/v1/events/stream?interface=eth9&since=2"
    async with api.session.get(url) as response:
        await response.content.readuntil(b"\n\n")  # retry: the stream is subscribed
        for n in range(3000):  # one batch, no await between: the queue sees all of them
            api.engine.handle(AddressAdded(Addr(3, AF_INET, f"10.1.{n // 250}.{n % 250}", 32)))
        api.engine.handle(LinkChanged(Link(9, "eth9", 0x1, 1500)))
        messages = await read_messages(response, 1)
    assert [(kind, data["link_name"]) for kind, data in messages] == [("event", "eth9")]
