"""Image headers are checked before decoding; only RGB PNG/JPEG frames get through."""

from __future__ import annotations

import struct
import zlib

import cv2
import numpy as np
import pytest

from nightowl.service.errors import BadImage, TooLarge, UnsupportedMediaType
from nightowl.service.serving.images import decode, encode, from_raw, read_header

RNG = np.random.default_rng(0)
FRAME = RNG.integers(0, 256, (48, 64, 3), dtype=np.uint8)


def encoded(image: np.ndarray, ext: str = ".png") -> bytes:
    return cv2.imencode(ext, image)[1].tobytes()


def png_declaring(width: int, height: int) -> bytes:
    """A tiny PNG whose header declares width x height RGB (a decompression bomb's shape)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = struct.pack(">I", len(ihdr)) + b"IHDR" + ihdr
    chunk += struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    return b"\x89PNG\r\n\x1a\n" + chunk + b"\x00" * 64


def test_png_and_jpeg_round_trip_in_rgb():
    assert np.array_equal(decode(encode(FRAME, "png"), 10_000), FRAME)
    jpeg = decode(encode(FRAME, "jpeg"), 10_000)
    assert jpeg.shape == FRAME.shape and jpeg.dtype == np.uint8
    assert read_header(encode(FRAME, "jpeg")).width == 64


def test_channel_order_is_rgb():
    red = np.zeros((40, 40, 3), np.uint8)
    red[..., 0] = 200
    assert decode(encode(red), 10_000)[0, 0].tolist() == [200, 0, 0]


def test_sixteen_bit_png_is_kept_at_sixteen_bits():
    deep = (FRAME.astype(np.uint16) * 257)[..., ::-1]
    image = decode(encoded(np.ascontiguousarray(deep)), 10_000)
    assert image.dtype == np.uint16 and np.array_equal(image, FRAME.astype(np.uint16) * 257)


def test_a_decompression_bomb_is_refused_from_its_header():
    with pytest.raises(TooLarge, match="50000x50000"):
        decode(png_declaring(50_000, 50_000), 3840 * 2160)


@pytest.mark.parametrize("image, words", [
    (np.zeros((40, 40), np.uint8), "grey"),
    (np.zeros((40, 40, 4), np.uint8), "RGBA"),
])
def test_grey_and_rgba_pngs_are_refused(image, words):
    with pytest.raises(BadImage, match=words):
        decode(encoded(image), 10_000)


def test_grey_jpeg_is_refused():
    with pytest.raises(BadImage, match="1 channel"):
        decode(encoded(np.zeros((40, 40), np.uint8), ".jpg"), 10_000)


@pytest.mark.parametrize("data, error", [
    (b"", BadImage),
    (b"hello, this is not an image", UnsupportedMediaType),
    (encoded(FRAME)[:20], BadImage),
    (encoded(FRAME)[:200], BadImage),
    (encoded(FRAME, ".jpg")[:100], BadImage),
    (png_declaring(0, 10), BadImage),
])
def test_bad_files_say_what_is_allowed(data, error):
    with pytest.raises(error, match=r"PNG|JPEG|size"):
        decode(data, 10_000)


def test_raw_frames_must_match_their_declared_size():
    raw = FRAME.tobytes()
    assert np.array_equal(from_raw(raw, 64, 48, 10_000), FRAME)
    with pytest.raises(BadImage, match="exactly 9216"):
        from_raw(raw[:-1], 64, 48, 10_000)
    with pytest.raises(TooLarge):
        from_raw(raw, 64, 48, 1000)
