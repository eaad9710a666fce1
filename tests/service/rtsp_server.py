"""A real RTSP server on 127.0.0.1 for the video tests: GStreamer's RTSP server (Debian's
gir1.2-gst-rtsp-server-1.0, through python3-gi), serving an H.264 ``.mp4`` clip at its own pace.

    /usr/bin/python3 tests/service/rtsp_server.py CLIP PORT [--stop-after S]

Runs under the system Python (the GObject bindings are Debian's, not the project's venv) and
imports nothing of nightowl. Each client gets the clip from its start (media not shared), then an
end of stream. It prints ``ready`` once listening; ``--stop-after`` exits S seconds after the
first client connects, as a camera that goes away mid-stream.
"""

from __future__ import annotations

import argparse
import os
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402

PATH = "/clip"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("clip")
    parser.add_argument("port", type=int)
    parser.add_argument("--stop-after", type=float, help="seconds after the first client")
    args = parser.parse_args()
    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(args.port))
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(f'( filesrc location="{args.clip}" ! qtdemux ! h264parse ! '
                       "rtph264pay name=pay0 pt=96 )")
    factory.set_shared(False)
    server.get_mount_points().add_factory(PATH, factory)
    if server.attach(None) == 0:
        sys.exit(f"cannot listen on 127.0.0.1:{args.port}")
    if args.stop_after is not None:
        def stop_later(*_) -> None:
            GLib.timeout_add(int(args.stop_after * 1000), lambda: os._exit(0))

        server.connect("client-connected", stop_later)
    print("ready", flush=True)
    GLib.MainLoop().run()


if __name__ == "__main__":
    main()
