"""A stream's flow control on its own: answers in message order, the in-flight limit, failures
and closing, with plain asyncio work standing in for frames."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from nightowl.service.serving.streams import FrameStream


async def messages(*items: int):
    for item in items:
        yield item


def test_answers_come_in_message_order_while_work_runs_concurrently():
    async def run():
        flow: FrameStream[int, str] = FrameStream(limit=8)
        finished: list[int] = []

        async def work(n: int) -> str:
            await asyncio.sleep(0.01 * (5 - n))  # later messages finish first
            finished.append(n)
            return f"done {n}"

        async def take(n: int) -> asyncio.Future[str]:
            return flow.answer(f"at once {n}") if n % 2 else flow.start(work(n))

        answers = [a async for a in flow.answers(messages(0, 1, 2, 3, 4), take)]
        return answers, finished, flow

    answers, finished, flow = asyncio.run(run())
    assert answers == ["done 0", "at once 1", "done 2", "at once 3", "done 4"]
    assert finished == [4, 2, 0]
    assert flow.received == 5 and flow.busy == 0


def test_frames_beyond_the_limit_are_refused_until_one_finishes():
    async def run():
        flow: FrameStream[int, str] = FrameStream(limit=2)
        gate = asyncio.Event()
        busy_seen: list[int] = []

        async def work(n: int) -> str:
            await gate.wait()
            return f"done {n}"

        async def take(n: int) -> asyncio.Future[str]:
            busy_seen.append(flow.busy)
            if n == 4:
                gate.set()  # the first two finish...
                await asyncio.sleep(0.01)  # ...and leave the stream before the fifth is taken
            if flow.refusal is not None:
                return flow.answer(flow.refusal)
            return flow.start(work(n))

        answers = [a async for a in flow.answers(messages(0, 1, 2, 3, 4), take)]
        return answers, busy_seen, flow

    answers, busy_seen, flow = asyncio.run(run())
    refused = "this stream already has 2 frames in flight (its limit); frame dropped under overload"
    assert answers == ["done 0", "done 1", refused, refused, "done 4"]
    assert busy_seen == [0, 1, 2, 2, 2]
    assert flow.busy == 0


def test_a_failure_of_take_comes_after_the_answers_before_it():
    async def run():
        flow: FrameStream[int, int] = FrameStream(limit=2)
        seen: list[int] = []

        async def take(n: int) -> asyncio.Future[int]:
            if n == 2:
                raise RuntimeError("message 2 is broken")
            return flow.answer(n)

        with pytest.raises(RuntimeError, match="message 2"):
            async for answer in flow.answers(messages(0, 1, 2, 3), take):
                seen.append(answer)
        return seen, flow

    seen, flow = asyncio.run(run())
    assert seen == [0, 1] and flow.received == 3


def test_a_task_counts_in_flight_until_it_ends_however_it_ends():
    async def run():
        flow: FrameStream[int, int] = FrameStream(limit=3)

        async def fails() -> int:
            raise ValueError("engine down")

        async def waits() -> int:
            await asyncio.sleep(10)
            return 0

        failing, cancelled_early, cancelled_late = flow.start(fails()), flow.start(waits()), \
            flow.start(waits())
        assert flow.busy == 3 and flow.refusal is not None
        cancelled_early.cancel()  # before it ever ran
        await asyncio.sleep(0)
        cancelled_late.cancel()  # while it waits
        results = await asyncio.gather(failing, cancelled_early, cancelled_late,
                                       return_exceptions=True)
        await asyncio.sleep(0)  # done callbacks run
        return results, flow

    results, flow = asyncio.run(run())
    assert isinstance(results[0], ValueError)
    assert all(isinstance(r, asyncio.CancelledError) for r in results[1:])
    assert flow.busy == 0 and flow.refusal is None


def test_closing_the_answers_stops_reading():
    async def run():
        flow: FrameStream[int, int] = FrameStream(limit=100)  # a queue that never fills

        async def endless():
            n = 0
            while True:
                yield n
                n += 1
                await asyncio.sleep(0.001)

        async def take(n: int) -> asyncio.Future[int]:
            return flow.answer(n)

        answers = flow.answers(endless(), take)
        async with contextlib.aclosing(answers):
            async for answer in answers:
                if answer == 3:
                    break
        received = flow.received
        await asyncio.sleep(0.05)
        return received, flow

    received, flow = asyncio.run(run())
    assert flow.received == received < 10  # nothing read after the close


def test_closing_while_the_reader_waits_for_room_leaves_no_task_behind():
    """The consumer stops after one answer while the reader has filled every place for
    answers (a client cancelling a fast stream): the reader ends too, it does not wait for
    ever to put the end of the messages."""
    async def run():
        flow: FrameStream[int, int] = FrameStream(limit=1)

        async def take(n: int) -> asyncio.Future[int]:
            return flow.answer(n)

        async def endless():
            n = 0
            while True:
                yield n
                n += 1

        answers = flow.answers(endless(), take)
        assert await answers.__anext__() == 0
        await asyncio.sleep(0.05)  # the reader fills the places and waits for room
        await answers.aclose()
        await asyncio.sleep(0.05)
        return [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]

    assert asyncio.run(run()) == []
