"""Offline side of nightowl: synthetic data, networks, training and export (torch lives here).

The data generator (``scenes``, ``degrade``, ``samples``) needs only numpy and OpenCV.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("nightowl")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"
