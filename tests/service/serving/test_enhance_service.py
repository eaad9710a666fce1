"""The service's one way in, without a server: admit, then submit a FrameRequest (staged at once,
enhanced when awaited), on the real CPU engines."""

from __future__ import annotations

import asyncio
import threading

import numpy as np
import pytest

from nightowl.service.errors import BadImage, BadRequest, NotReady, Overloaded
from nightowl.service.frames.background import BackgroundMemory
from nightowl.service.frames.gain_tracker import GainTracker
from nightowl.service.serving import enhance_service
from nightowl.service.serving.enhance_service import EnhanceService, FrameRequest
from nightowl.training.synth.degrade import eq6
from nightowl.training.synth.long_scenes import LongConfig, render_long
from nightowl.training.synth.scenes import SceneConfig
from tests.serving import sequence, service_settings


def with_service(engines, work, start: bool = True, **overrides):
    """Run ``work(service)`` on a fresh service (started unless ``start`` is False)."""
    async def main():
        service = EnhanceService(service_settings(**overrides), engines)
        if start:
            await service.start()
        try:
            return await work(service)
        finally:
            await service.close()

    return asyncio.run(main())


def test_frames_without_a_camera_are_enhanced_from_themselves(engines):
    frames = list(sequence(3, 0))

    async def work(service):
        with service.admit():
            submission = service.submit(FrameRequest(frames))
            assert service.in_flight.count == 1
            result = await submission
        return submission.staged, result, service.in_flight.count

    staged, result, in_flight = with_service(engines, work)
    assert staged.window.shape == (4, 48, 64, 3) and staged.status == "ok"
    assert result.status == "ok" and result.sequence == 0 and result.frames_used == 4
    assert result.image.shape == frames[-1].shape and result.image.dtype == np.uint8
    assert result.timings["engine"] > 0 and result.gain is not None
    assert in_flight == 0


def test_camera_frames_are_staged_in_call_order_and_enhanced_later(engines):
    frames = sequence(3, 1)

    async def work(service):
        submissions = [service.submit(FrameRequest([f], "cam", t)) for t, f in enumerate(frames)]
        duplicate = service.submit(FrameRequest([frames[3]], "cam", 3))
        results = await asyncio.gather(*submissions)  # enhanced after all were staged
        return [s.staged for s in submissions], duplicate.staged, results, await duplicate

    staged, duplicate, results, skipped = with_service(engines, work)
    assert [s.status for s in staged] == ["warming_up"] * 3 + ["ok"]
    assert [s.window.shape[0] for s in staged] == [1, 2, 3, 4]
    assert [s.sequence for s in staged] == [0, 1, 2, 3]
    assert [r.frames_used for r in results] == [1, 2, 3, 4]
    assert duplicate.status == "skipped" and duplicate.window is None
    assert duplicate.reason.startswith("duplicate: camera 'cam' already has sequence 3")
    assert skipped.status == "skipped" and skipped.image is None and skipped.gain is None
    assert skipped.reason == duplicate.reason and skipped.sequence == 3


def test_a_cameras_gains_follow_its_staging_order_and_are_estimated_off_the_loop(
        engines, monkeypatch):
    frames = list(sequence(3, 4))
    threads = []
    real = enhance_service.gain_features

    def recorded(frame):
        threads.append(threading.current_thread().name)
        return real(frame)

    monkeypatch.setattr(enhance_service, "gain_features", recorded)

    async def work(service):
        submissions = [service.submit(FrameRequest([f], "gain-cam", t))
                       for t, f in enumerate(frames)]
        return [await s for s in reversed(submissions)][::-1]  # the newest finished first

    results = with_service(engines, work)
    tracker = GainTracker()
    expected = [tracker.push(frame) for frame in frames]
    assert [r.gain.source for r in results] == ["estimated"] * len(frames)
    assert [r.gain.value for r in results] == pytest.approx(expected, rel=1e-6)
    assert len(threads) == len(frames)
    assert all(name.startswith("nightowl-cpu") for name in threads), threads


def test_admission_is_refused_before_start_and_beyond_the_queue_limit(engines):
    async def not_started(service):
        with pytest.raises(NotReady, match="starting"):
            service.admit()
        return service.in_flight.count

    assert with_service(engines, not_started, start=False) == 0

    async def full(service):
        with service.admit(), pytest.raises(Overloaded, match="1 frames in flight"):
            service.admit()
        with service.admit():
            return service.in_flight.count

    assert with_service(engines, full, queue_limit=1) == 1


def test_bad_requests_are_refused_when_submitted(engines):
    frames = sequence(3, 2)

    async def work(service):
        with pytest.raises(BadRequest, match="camera_id must be 1 to 128"):
            service.submit(FrameRequest([frames[0]], ""))
        with pytest.raises(BadImage, match="same size"):
            service.submit(FrameRequest([frames[0], frames[1][:40]]))
        with pytest.raises(BadRequest, match="send 1 to 4 frames"):
            service.submit(FrameRequest([*frames, frames[0]], "cam"))
        return len(service.buffers)

    assert with_service(engines, work) == 0


def test_a_camera_keeps_its_latest_pair_by_reference_until_its_buffer_goes(engines):
    frames = [np.ascontiguousarray(f) for f in sequence(3, 2)]

    async def work(service):
        owner = object()
        results = [await service.submit(FrameRequest([f], "cam", t, owner=owner))
                   for t, f in enumerate(frames)]
        await service.submit(FrameRequest([frames[0]], None))  # no camera: no preview
        kept = service.previews.get("cam")
        listed = service.previews.cameras()
        service.release_owner(owner)
        return results, kept, listed, "cam" in service.previews

    results, kept, listed, still = with_service(engines, work)
    assert kept.input is frames[-1] and kept.output is results[-1].image  # no copies
    assert kept.sequence == 3 and kept.gain == results[-1].gain.value and not kept.jpegs
    assert [c["id"] for c in listed] == ["cam"] and not still


def static_street(index: int, frames: int = 12) -> list[np.ndarray]:
    """Dark frames of a generator street with no traffic (what a memory learns quickly)."""
    config = LongConfig(frames=max(frames, 8), scene=SceneConfig(width=64, height=48),
                        gap=(10**6, 10**6), park=None, light_drift=0.0)
    clean = render_long(config, np.random.default_rng([77, index])).clean[:frames]
    return list(eq6(clean, 20.0, 2.0, np.random.default_rng(index)))


def camera_results(engines, cameras: dict[str, list[np.ndarray]], interleaved: bool,
                   **overrides) -> dict[str, list[bytes]]:
    """Each camera's answers, its frames submitted camera after camera or interleaved, all
    awaited together (so the cpu threads finish them in any order)."""
    async def work(service):
        order = [(c, t) for c in cameras for t in range(len(cameras[c]))]
        if interleaved:
            order.sort(key=lambda item: item[1])
        submissions = {(c, t): service.submit(FrameRequest([cameras[c][t]], c, t))
                       for c, t in order}
        results = dict(zip(submissions, await asyncio.gather(*submissions.values()),
                           strict=True))
        return {c: [results[c, t].image.tobytes() for t in range(len(cameras[c]))]
                for c in cameras}

    return with_service(engines, work, align_threads=2, **overrides)


def test_memory_is_exact_across_interleaved_cameras_and_young_memory_changes_nothing(engines):
    cameras = {f"cam-{i}": static_street(i) for i in range(3)}
    alone = camera_results(engines, cameras, False, background_memory=True)
    mixed = camera_results(engines, cameras, True, background_memory=True)
    without = camera_results(engines, cameras, True)
    assert mixed == alone  # each memory learns its frames in sequence order, whatever the timing
    for camera in cameras:
        # up to T frames the memory knows no more than the window: served exactly as without
        assert alone[camera][:4] == without[camera][:4]
        assert alone[camera][6:] != without[camera][6:]  # then it is used


async def cpu_threads_idle(service: EnhanceService) -> None:
    """Every cpu thread has moved on from its last work: a thread answers first and drops the
    work's arguments (a memory among them) a moment later, so each is made to take new work."""
    threads = service.settings.align_threads
    barrier = threading.Barrier(threads, timeout=60)
    await asyncio.gather(*(service.run_cpu(barrier.wait) for _ in range(threads)))


def test_a_camera_memory_goes_with_its_buffer(engines):
    frames = static_street(5, 6)

    async def work(service):
        owner = object()
        for t, frame in enumerate(frames):
            await service.submit(FrameRequest([frame], "cam", t, owner=owner))
        memory = service.buffers.push("cam", frames[-1], 6, owner).background  # (not remembered)
        held = memory.frames_seen, memory.nbytes()
        del memory
        service.release_owner(owner)
        await cpu_threads_idle(service)
        tails = len(service._memory_tails) + len(service._blend_tails)
        return held, tails, "cam" in service.buffers

    (seen, size), tails, still = with_service(engines, work, background_memory=True)
    assert seen == 6 and size == BackgroundMemory.bytes_for(64, 48)
    assert tails == 0 and not still  # freed with the camera
