"""Video in and out through FFmpeg (PyAV, whose wheels carry it): decoding any FFmpeg input to
RGB frames with their timestamps (``source``) and writing H.264 that keeps them (``sink``).

Imports neither torch nor the server: ``nightowl enhance`` uses it, and tests call it directly.
"""

from __future__ import annotations


class VideoError(Exception):
    """A video that cannot be opened, read or written; the message is one line that says what
    and why."""
