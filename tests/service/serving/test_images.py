"""Image headers are checked before decoding; only RGB or grey PNG/JPEG frames get through."""

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


def png_declaring(width: int, height: int, colour: int = 2) -> bytes:
    """A tiny PNG whose header declares width x height RGB (a decompression bomb's shape), or
    another PNG colour type."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, colour, 0, 0, 0)
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


def test_rgba_png_is_refused():
    with pytest.raises(BadImage, match="RGBA"):
        decode(encoded(np.zeros((40, 40, 4), np.uint8)), 10_000)


@pytest.mark.parametrize("colour, words", [(4, "grey \\+ alpha"), (3, "palette")])
def test_grey_alpha_and_palette_pngs_are_refused_from_their_header(colour, words):
    with pytest.raises(BadImage, match=words):
        decode(png_declaring(40, 40, colour), 10_000)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_grey_png_decodes_grey_at_its_depth_and_encodes_back(dtype):
    grey = (FRAME[..., 1].astype(dtype) * (257 if dtype == np.uint16 else 1))
    image = decode(encoded(grey), 10_000)
    assert image.dtype == dtype and np.array_equal(image, grey)
    header = read_header(encode(image))
    assert header.channels == 1 and header.depth == 8 * np.dtype(dtype).itemsize


def test_grey_jpeg_decodes_grey_and_encodes_back():
    image = decode(encoded(FRAME[..., 0], ".jpg"), 10_000)
    assert image.shape == (48, 64) and image.dtype == np.uint8
    assert read_header(encode(image, "jpeg")).channels == 1


def test_raw_grey_frames_must_match_their_declared_size():
    raw = FRAME[..., 0].copy().tobytes()
    assert from_raw(raw, 64, 48, 10_000, channels=1).shape == (48, 64)
    with pytest.raises(BadImage, match=r"GREY8.*exactly 3072"):
        from_raw(raw[:-1], 64, 48, 10_000, channels=1)


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
