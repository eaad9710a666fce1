"""One stream's flow control: every message answered once, in the order sent, with at most
``limit`` frames in flight.

A reader task takes the messages one at a time, in order: ``take`` stages a frame now and
returns a future of its answer, :meth:`FrameStream.answer` for one known at once (a refused or
unusable frame) or :meth:`FrameStream.start` for one computed in a task.
:meth:`FrameStream.answers` yields the answers in the order of the messages while the frames
behind them are computed concurrently. It imports neither grpc nor fastapi: the servicer
supplies the messages and turns frames into answers.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from typing import Any, Generic, TypeVar

Message = TypeVar("Message")
Answer = TypeVar("Answer")
Take = Callable[[Message], Awaitable[asyncio.Future[Answer]]]  # a message -> its answer


class FrameStream(Generic[Message, Answer]):
    """The flow control of one stream; see the module doc. Used from one event loop."""

    def __init__(self, limit: int) -> None:
        self.limit = limit  # frames in flight at most; beyond it :attr:`refusal` says why not
        self.busy = 0  # frames started (:meth:`start`) whose task is not done yet
        self.received = 0  # messages taken so far
        self.ended: Exception | None = None  # why no further message is read (:meth:`end`)
        # answers not yet yielded, at most ``limit * 4`` (the reader waits for room); the end
        # of the messages is put without waiting, so a reader stopped while the consumer is
        # gone never blocks for ever
        self._answers: asyncio.Queue[asyncio.Future[Answer] | None] = asyncio.Queue()
        self._room = asyncio.Semaphore(limit * 4)

    @property
    def refusal(self) -> str | None:
        """Why a new frame cannot start now (the stream is at its limit); None: it can."""
        if self.busy < self.limit:
            return None
        return (f"this stream already has {self.busy} frames in flight (its limit); frame "
                "dropped under overload")

    def end(self, reason: Exception) -> None:
        """Read no message after the one being taken; the answers taken so far still come.
        The stream's owner ends the call with ``reason`` after them."""
        self.ended = self.ended or reason

    def answer(self, value: Answer) -> asyncio.Future[Answer]:
        """An answer known at once."""
        future = asyncio.get_running_loop().create_future()
        future.set_result(value)
        return future

    def start(self, work: Coroutine[Any, Any, Answer]) -> asyncio.Task[Answer]:
        """Compute an answer in a task; its frame is in flight until the task is done, however
        it ends."""
        self.busy += 1
        task = asyncio.get_running_loop().create_task(work)
        task.add_done_callback(self._done)
        return task

    async def answers(self, messages: AsyncIterator[Message],
                      take: Take[Message, Answer]) -> AsyncIterator[Answer]:
        """Each message's answer, in the order of the messages. ``take`` gets the messages one
        at a time (the next once it has returned); a failure of ``messages`` or ``take`` is
        raised after the answers before it. Close it (``contextlib.aclosing``) to stop reading.
        """
        reader = asyncio.get_running_loop().create_task(self._read(messages, take))
        try:
            while (pending := await self._answers.get()) is not None:
                self._room.release()
                yield await pending
            await reader  # re-raises a failure of the reader
        finally:
            reader.cancel()  # no await: this runs even while the caller is being cancelled

    def _done(self, _: asyncio.Future) -> None:
        self.busy -= 1

    async def _read(self, messages: AsyncIterator[Message], take: Take[Message, Answer]) -> None:
        try:
            async for message in messages:
                self.received += 1
                await self._room.acquire()
                try:
                    self._answers.put_nowait(await take(message))
                except BaseException:
                    self._room.release()
                    raise
                if self.ended is not None:
                    break
        finally:
            self._answers.put_nowait(None)
