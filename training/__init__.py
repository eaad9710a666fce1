"""Offline side of nightowl (torch lives here): the synthetic world (``synth``), the networks
(``nets``), training (``fit``), release to the model repository (``release``) and the
evaluation (``evaluation``). It imports the server's torch-free core, never the reverse.

The generator (``synth``) and the evaluation need only numpy, OpenCV and ONNX Runtime.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("nightowl")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"
