"""The generator's ground truth: flows, masks, labels and the traffic it draws."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from nightowl.training.synth.samples import sample_rng
from nightowl.training.synth.scenes import SceneConfig, render_sequence

# Bound on the mean absolute error (8-bit levels) after warping a frame onto frame T with the
# true flow, over vehicle pixels visible in both frames: the warp resamples an already
# resampled sprite, which softens sharp plate edges a little. Background pixels must match
# exactly. A wrong sign, frame or scale in the flow gives errors of tens of levels.
MEAN_WARP_ERROR_PER_PAIR = 5.0
MEAN_WARP_ERROR_OVERALL = 2.0


def warp_onto_last(frame: np.ndarray, flow: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Frame t resampled at x + flow(x), and where x + flow(x) lies inside frame t."""
    height, width = flow.shape[:2]
    grid_x, grid_y = np.meshgrid(np.arange(width, dtype=np.float32),
                                 np.arange(height, dtype=np.float32))
    map_x, map_y = grid_x + flow[..., 0], grid_y + flow[..., 1]
    warped = cv2.remap(frame, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    inside = (map_x >= 0) & (map_x <= width - 1) & (map_y >= 0) & (map_y <= height - 1)
    return warped, inside


def visible_in_both(seq, t: int, flow_inside: np.ndarray) -> np.ndarray:
    """Pixels of frame T whose flow lands on the same object in frame t, away from edges."""
    last = seq.clean.shape[0] - 1
    height, width = flow_inside.shape
    grid_x, grid_y = np.meshgrid(np.arange(width), np.arange(height))
    src_x = np.clip(np.rint(grid_x + seq.flows[t][..., 0]).astype(int), 0, width - 1)
    src_y = np.clip(np.rint(grid_y + seq.flows[t][..., 1]).astype(int), 0, height - 1)
    same = flow_inside & (seq.owners[t][src_y, src_x] == seq.owners[last])
    same &= seq.opaque[t][src_y, src_x] | (seq.owners[last] < 0)
    same &= seq.opaque[last] | (seq.owners[last] < 0)
    return cv2.erode(same.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)


def test_true_flow_warps_every_frame_onto_the_last(samples):
    vehicle_errors = []
    for sample in samples:
        seq = sample.sequence
        last = seq.clean.shape[0] - 1
        for t in range(last):
            warped, inside = warp_onto_last(seq.clean[t], seq.flows[t])
            visible = visible_in_both(seq, t, inside)
            error = np.abs(warped.astype(np.int16) - seq.clean[last].astype(np.int16))
            on_background = visible & (seq.owners[last] < 0)
            assert error[on_background].max(initial=0) == 0
            on_vehicle = visible & (seq.owners[last] >= 0)
            assert on_vehicle.sum() > 100, "every sequence shows a vehicle in both frames"
            mean = float(error[on_vehicle].mean())
            assert mean < MEAN_WARP_ERROR_PER_PAIR, (sample.index, t, mean)
            vehicle_errors.append(mean)
    assert np.mean(vehicle_errors) < MEAN_WARP_ERROR_OVERALL


def test_flow_is_wrong_when_shifted_by_a_frame(samples):
    """The warp check above can fail: the flow of another frame gives large errors."""
    errors = []
    for sample in samples[:10]:
        seq = sample.sequence
        warped, inside = warp_onto_last(seq.clean[0], seq.flows[1])
        on_vehicle = visible_in_both(seq, 1, inside) & (seq.owners[-1] >= 0)
        diff = np.abs(warped.astype(np.int16) - seq.clean[-1].astype(np.int16))
        errors.append(diff[on_vehicle].mean())
    assert np.mean(errors) > 2 * MEAN_WARP_ERROR_OVERALL


def test_mask_marks_exactly_the_moving_pixels(samples):
    for sample in samples:
        seq = sample.sequence
        for t in range(seq.clean.shape[0]):
            still = ~seq.masks[t]
            assert np.array_equal(seq.clean[t][still], seq.background[still])
            changed = np.any(seq.clean[t] != seq.background, axis=-1)
            assert changed[seq.masks[t]].mean() > 0.9  # vehicles differ from the road
            assert np.array_equal(seq.masks[t], seq.owners[t] >= 0)


def test_flow_is_zero_off_vehicles_and_nonzero_on_them(samples):
    for sample in samples:
        seq = sample.sequence
        last = seq.clean.shape[0] - 1
        assert not seq.flows[last].any()
        moving = seq.masks[last]
        for t in range(last):
            length = np.linalg.norm(seq.flows[t], axis=-1)
            assert not length[~moving].any()
            assert (length[moving] > 0.05).mean() > 0.99


@pytest.mark.parametrize("frames", [1, 2, 6])
def test_any_sequence_length(frames):
    config = SceneConfig(width=96, height=64, frames=frames)
    seq = render_sequence(config, sample_rng(3, 0))
    assert seq.clean.shape == (frames, 64, 96, 3)
    assert seq.masks.shape == (frames, 64, 96)
    assert seq.flows.shape == (frames, 64, 96, 2)
    assert not seq.flows[-1].any()


def test_character_boxes_are_inside_hold_ink_and_spell_the_plate(samples):
    readable = 0
    for sample in samples:
        seq = sample.sequence
        height, width = seq.clean.shape[1:3]
        gray = cv2.cvtColor(seq.clean[-1], cv2.COLOR_RGB2GRAY).astype(np.int16)
        for plate in seq.plates:
            assert "".join(c.label for c in plate.chars) == plate.labels
            assert plate.labels == "".join(ch for ch in plate.text if ch.isalnum())
            readable += plate.readable
            for char in plate.chars:
                if not char.visible:
                    continue
                x0, y0, x1, y1 = char.box
                assert 0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height
                assert 7.5 <= y1 - y0 <= 24.5, f"character {y1 - y0:.1f} px tall"
                patch = gray[int(y0):int(np.ceil(y1)), int(x0):int(np.ceil(x1))]
                assert patch.max() - patch.min() > 60, "a character box must hold ink"
    assert readable >= 0.9 * len(samples)


def test_box_off_the_character_holds_no_ink(samples):
    """The ink check can fail: the same box moved onto plain road holds no contrast."""
    seq = samples[0].sequence
    gray = cv2.cvtColor(seq.background, cv2.COLOR_RGB2GRAY).astype(np.int16)
    x0, y0, x1, y1 = (int(v) for v in seq.plates[0].chars[0].box)
    patch = gray[y0:y1, x0:x1]
    assert patch.max() - patch.min() < 60


def test_traffic_varies_like_a_roadside_camera(samples):
    counts = [len(s.sequence.vehicles) for s in samples]
    assert set(counts) <= {1, 2, 3} and len(set(counts)) >= 2
    views = {v.view for s in samples for v in s.sequence.vehicles}
    assert views == {"front", "rear"}
    # approaching vehicles grow frame to frame, receding ones shrink
    steps = [v.scale_step for s in samples for v in s.sequence.vehicles]
    assert min(steps) < 1 < max(steps)
    exits = sum(any(m[0].any() or m[-1].any() or m[:, 0].any() or m[:, -1].any()
                    for m in s.sequence.masks[-1:]) for s in samples)
    assert exits >= 5, "some vehicles leave the frame partly"
    occluded = sum(_hidden_pixels(s.sequence, index) > 0
                   for s in samples for index in range(len(s.sequence.vehicles) - 1))
    assert occluded >= 1, "vehicles sometimes hide one another"
    fonts = {p.font for s in samples for p in s.sequence.plates}
    styles = {p.style for s in samples for p in s.sequence.plates}
    assert len(fonts) >= 5 and len(styles) >= 5


def _hidden_pixels(seq, index: int) -> int:
    """Pixels inside vehicle ``index``'s extent on frame T drawn by a nearer vehicle."""
    owned = seq.owners[-1] == index  # vehicles are indexed far to near
    if not owned.any():
        return 0
    rows, cols = np.nonzero(owned)
    extent = seq.owners[-1][rows.min():rows.max() + 1, cols.min():cols.max() + 1]
    return int((extent > index).sum())


# --- photo scenes -----------------------------------------------------------------------------
PHOTO_SCENE = SceneConfig(photo_backgrounds=1.0, textured_vehicles=1.0, photo_patches=(2, 3))


@pytest.fixture(scope="module")
def photo_sequences():
    return [render_sequence(PHOTO_SCENE, sample_rng(11, i)) for i in range(6)]


def test_photo_scenes_keep_exact_flows_for_vehicles_and_patches(photo_sequences):
    errors = []
    for seq in photo_sequences:
        last = seq.clean.shape[0] - 1
        for t in range(last):
            warped, inside = warp_onto_last(seq.clean[t], seq.flows[t])
            visible = visible_in_both(seq, t, inside)
            error = np.abs(warped.astype(np.int16) - seq.clean[last].astype(np.int16))
            assert error[visible & (seq.owners[last] < 0)].max(initial=0) == 0
            on_patch = visible & (seq.owners[last] >= len(seq.vehicles))
            if on_patch.sum() > 100:
                errors.append(float(error[on_patch].mean()))
    assert errors, "the patches show in both frames"
    assert np.mean(errors) < MEAN_WARP_ERROR_PER_PAIR


def test_photo_patches_move_are_masked_and_carry_no_plates(photo_sequences):
    for seq in photo_sequences:
        patches = seq.owners[-1] >= len(seq.vehicles)
        assert seq.masks[-1][patches].all()
        assert len(seq.plates) == len(seq.vehicles)
        still = ~seq.masks[-1]
        assert np.array_equal(seq.clean[-1][still], seq.background[still])
    moving = [np.linalg.norm(seq.flows[0], axis=-1)[seq.owners[-1] >= len(seq.vehicles)]
              for seq in photo_sequences]
    assert np.mean(np.concatenate(moving) > 0.2) > 0.9


def test_photo_backgrounds_are_photographs_not_the_rendered_street(photo_sequences):
    rendered = render_sequence(SceneConfig(), sample_rng(11, 0)).background
    assert not np.array_equal(photo_sequences[0].background, rendered)
    # a photograph's texture: more distinct colours than the rendered street's gradients
    colours = [len(np.unique(seq.background.reshape(-1, 3), axis=0)) for seq in photo_sequences]
    assert np.median(colours) > 5000


def test_the_default_scene_never_reads_a_photograph(monkeypatch):
    from nightowl.training.synth import photos

    def refuse(*args, **kwargs):
        raise AssertionError("a default scene drew a photograph")

    monkeypatch.setattr(photos, "random_crop", refuse)
    render_sequence(SceneConfig(), sample_rng(3, 1))


def test_photo_options_are_checked():
    with pytest.raises(ValueError, match="photo_backgrounds"):
        SceneConfig(photo_backgrounds=1.5)
    with pytest.raises(ValueError, match="photo_patches"):
        SceneConfig(photo_patches=(3, 1))
    with pytest.raises(ValueError, match="photo_split"):
        SceneConfig(photo_split="holdout")
