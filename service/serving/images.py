"""Frames in and out: PNG/JPEG checked from their headers before decoding, raw pixels, encoding.

A frame is an (H, W, 3) RGB array or an (H, W) grey one, uint8, or uint16 for 16-bit PNG; it
keeps the file's kind, so that the answer can be given in it. Size and pixel format are read
from the file header first, so a decompression bomb (a small file declaring a huge image) or a
palette/alpha image is refused before any pixel is decoded.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np

from nightowl.service.errors import BadImage, TooLarge, UnsupportedMediaType

Format = Literal["png", "jpeg"]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
JPEG_SOI = b"\xff\xd8\xff"
MEDIA_TYPES: dict[Format, str] = {"png": "image/png", "jpeg": "image/jpeg"}
_PNG_COLOUR = {0: "grey", 2: "RGB", 3: "palette", 4: "grey + alpha", 6: "RGBA"}
# JPEG start-of-frame markers (baseline, progressive, lossless, arithmetic); not DHT/JPG/DAC
_JPEG_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
ALLOWED = "PNG (8- or 16-bit RGB or grey) or JPEG (8-bit, 3 channels or grey)"


@dataclass(frozen=True)
class Header:
    """What an image file declares, before decoding."""

    format: Format
    width: int  # px
    height: int  # px
    depth: int  # bits per channel: 8 or 16
    channels: int = 3  # 3: RGB; 1: grey


def read_header(data: bytes, name: str = "frame") -> Header:
    """The header of a PNG or JPEG file; BadImage/UnsupportedMediaType unless it is one we take."""
    if not data:
        raise BadImage(f"{name} is empty (0 bytes); send {ALLOWED}")
    if data.startswith(PNG_SIGNATURE):
        return _png_header(data, name)
    if data.startswith(JPEG_SOI):
        return _jpeg_header(data, name)
    raise UnsupportedMediaType(f"{name} is not a PNG or JPEG file (starts with "
                               f"{data[:8].hex(' ')}); send {ALLOWED}")


def check_size(width: int, height: int, max_pixels: int, name: str = "frame") -> None:
    """Refuse a zero or too large declared size."""
    if width < 1 or height < 1:
        raise BadImage(f"{name} declares a size of {width}x{height} px; both sides must be >= 1")
    if width * height > max_pixels:
        raise TooLarge(f"{name} declares {width}x{height} = {width * height} px; at most "
                       f"{max_pixels} px per frame are accepted")


def decode(data: bytes, max_pixels: int, name: str = "frame") -> np.ndarray:
    """PNG/JPEG bytes -> (H, W, 3) RGB or (H, W) grey, uint8 (uint16 for 16-bit PNG), checked
    header first."""
    header = read_header(data, name)
    check_size(header.width, header.height, max_pixels, name)
    # decoded as the kind the header declares: a tRNS chunk (one colour marked transparent)
    # would otherwise add an alpha channel; depth kept, EXIF orientation ignored
    flags = cv2.IMREAD_COLOR if header.channels == 3 else cv2.IMREAD_GRAYSCALE
    image = cv2.imdecode(np.frombuffer(data, np.uint8),
                         flags | cv2.IMREAD_ANYDEPTH | cv2.IMREAD_IGNORE_ORIENTATION)
    ndim = 3 if header.channels == 3 else 2
    if image is None or image.shape[:2] != (header.height, header.width) or image.ndim != ndim:
        raise BadImage(f"{name} could not be decoded as the {header.width}x{header.height} "
                       f"{header.format.upper()} its header declares (truncated or corrupt?); "
                       f"send a whole file, {ALLOWED}")
    return image if ndim == 2 else np.ascontiguousarray(image[..., ::-1])  # BGR -> RGB


def from_raw(data: bytes, width: int, height: int, max_pixels: int,
             name: str = "frame", channels: int = 3) -> np.ndarray:
    """Raw 8-bit bytes, row-major, no padding -> (H, W, 3) RGB (interleaved, ``channels`` 3)
    or (H, W) grey (``channels`` 1), uint8."""
    check_size(width, height, max_pixels, name)
    expected = width * height * channels
    if len(data) != expected:
        kind = "RGB8" if channels == 3 else "GREY8"
        raise BadImage(f"{name} holds {len(data)} bytes; raw {kind} at {width}x{height} needs "
                       f"exactly {expected} (width * height * {channels})")
    shape = (height, width, 3) if channels == 3 else (height, width)
    return np.frombuffer(data, np.uint8).reshape(shape)


def encode(image: np.ndarray, format: Format = "png") -> bytes:
    """(H, W, 3) RGB or (H, W) grey, uint8/uint16 -> PNG (fast compression; 16-bit kept) or
    JPEG (quality 90); grey stays grey."""
    bgr = np.ascontiguousarray(image if image.ndim == 2 else image[..., ::-1])
    if format == "jpeg":
        if bgr.dtype == np.uint16:
            bgr = (bgr >> 8).astype(np.uint8)
        ok, buffer = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, 90])
    else:
        ok, buffer = cv2.imencode(".png", bgr, [cv2.IMWRITE_PNG_COMPRESSION, 1])
    if not ok:
        raise ValueError(f"could not encode a {image.shape} {image.dtype} image as {format}")
    return buffer.tobytes()


def _png_header(data: bytes, name: str) -> Header:
    if len(data) < 33 or data[12:16] != b"IHDR":
        raise BadImage(f"{name} is a truncated PNG (no complete IHDR chunk); send {ALLOWED}")
    width, height, depth, colour = struct.unpack(">IIBB", data[16:26])
    if colour not in (0, 2) or depth not in (8, 16):
        raise BadImage(f"{name} is a {depth}-bit {_PNG_COLOUR.get(colour, f'type {colour}')} "
                       f"PNG; send {ALLOWED}")
    return Header("png", width, height, depth, 1 if colour == 0 else 3)


def _jpeg_header(data: bytes, name: str) -> Header:
    at = 2
    while at + 4 <= len(data):
        if data[at] != 0xFF:
            break
        marker = data[at + 1]
        if marker == 0xFF:  # fill byte
            at += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:  # no length field
            at += 2
            continue
        (length,) = struct.unpack(">H", data[at + 2:at + 4])
        if marker in _JPEG_SOF:
            if at + 10 > len(data):
                break
            depth, height, width, channels = struct.unpack(">BHHB", data[at + 4:at + 10])
            if depth != 8 or channels not in (1, 3):
                raise BadImage(f"{name} is a {depth}-bit JPEG with {channels} channel(s); "
                               f"send {ALLOWED}")
            return Header("jpeg", width, height, 8, channels)
        if marker == 0xDA:  # start of scan before any frame header
            break
        at += 2 + length
    raise BadImage(f"{name} is a JPEG without a readable frame header (truncated or corrupt); "
                   f"send {ALLOWED}")
