"""The event bus: resume after Last-Event-ID without loss or repetition; reset when the id is unknown."""

from __future__ import annotations

import asyncio

from edge_agent.events import RESET, Channel


async def take(stream, count: int) -> list:
    events = []
    async for event in stream:
        if event is not None:
            events.append(event)
        if len(events) == count:
            break
    return events


def test_resume_replays_missed_events_then_live_ones_once() -> None:
    async def scenario() -> None:
        channel = Channel("board", ring_size=100)
        published = [channel.publish("board", {"n": n}) for n in range(10)]
        stream = channel.stream(str(published[4].id))
        first = await take(stream, 5)
        assert [e.data["n"] for e in first] == [5, 6, 7, 8, 9]
        channel.publish("board", {"n": 10})
        live = await take(stream, 1)
        assert live[0].data["n"] == 10 and live[0].id == published[-1].id + 1
        await stream.aclose()
        assert channel.subscriber_count == 0

    asyncio.run(scenario())


def test_unknown_or_evicted_id_gets_a_reset() -> None:
    async def scenario() -> None:
        channel = Channel("staff", ring_size=3)
        published = [channel.publish("arrival", {"n": n}) for n in range(6)]
        for stale in (str(published[0].id), "12", "garbage", str(published[-1].id + 50)):
            stream = channel.stream(stale)
            assert (await take(stream, 1))[0].type == RESET
            await stream.aclose()
        stream = channel.stream(str(published[2].id))  # the oldest id still answerable
        assert [e.data["n"] for e in await take(stream, 3)] == [3, 4, 5]
        await stream.aclose()

    asyncio.run(scenario())


def test_new_process_ids_start_above_old_ones() -> None:
    old = Channel("board")
    old.publish("board", {})
    assert Channel("board").last_id > old.last_id - 1


def test_close_ends_streams() -> None:
    async def scenario() -> None:
        channel = Channel("board")
        task = asyncio.ensure_future(take(channel.stream(None), 1))
        await asyncio.sleep(0)
        channel.close()
        assert await asyncio.wait_for(task, 5) == []

    asyncio.run(scenario())


def test_a_new_client_gets_a_snapshot_first() -> None:
    async def scenario() -> None:
        channel = Channel("board")
        channel.publish("board", {"waiting": ["A-001"]})

        async def snapshot() -> tuple[str, dict]:
            channel.publish("board", {"waiting": ["A-001", "A-002"]})  # a change while the snapshot is taken
            return "board", {"waiting": ["A-001"]}

        stream = channel.stream(None, snapshot)
        first, second = await take(stream, 2)
        assert first.data == {"waiting": ["A-001"]} and second.data == {"waiting": ["A-001", "A-002"]}
        assert second.id == first.id + 1
        await stream.aclose()

    asyncio.run(scenario())


def test_an_absurd_last_event_id_gets_a_reset_not_an_error() -> None:
    """5,000 digits would overflow int()'s digit limit (ValueError); non-ASCII digits are not ours either."""

    async def scenario() -> None:
        channel = Channel("board")
        channel.publish("board", {})
        for absurd in ("9" * 5000, "٣٣", " 12 34 ", "-5"):
            stream = channel.stream(absurd)
            assert (await take(stream, 1))[0].type == RESET
            await stream.aclose()

    asyncio.run(scenario())
