"""``nightowl relay``'s parts: one camera's frames over the gRPC ``Stream`` and the enhanced
frames back into an H.264 file (``link``: one stream with bounded frames in flight and a deadline
per frame; ``relay``: the loop over reconnections; ``clock``: each frame's capture time;
``report``: its own counts and latency).

A gRPC client: it imports the generated stubs and ``nightowl.service.video``, never the server.
"""

from __future__ import annotations


class RelayError(Exception):
    """The relay cannot go on (the server unreachable after the bounded reconnections, the output
    unwritable); the message is one line that says what and why."""
