"""Static int8 quantisation of an enhancer for ONNX Runtime's CPU provider.

Weights int8 per output channel, activations uint8 per tensor, ranges calibrated on the inputs
the network sees in use (dark aligned generator frames). Inputs and outputs stay float32, so
an engine swaps files without changing its buffers. Every temporary file (the pre-processed
graph, onnxruntime's augmented calibration graph) lives in a temporary directory, never the
working directory.
"""

from __future__ import annotations

import contextlib
import io
import logging
import shutil
import tempfile
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

FORMATS = ("qdq", "qoperator")
CALIBRATIONS = ("minmax", "percentile", "entropy")


@dataclass(frozen=True)
class Int8Options:
    """How a file is quantised (chosen by measurement: bench/README.md, 'int8 on the CPU')."""

    format: str = "qdq"  # "qdq": QuantizeLinear/DequantizeLinear pairs around float ops, fused
    #   by onnxruntime into integer kernels; "qoperator": QLinearConv and friends in the graph
    calibration: str = "percentile"  # "minmax", "percentile" or "entropy"
    percentile: float = 99.99  # "percentile": the share of each tensor's values kept in range
    per_channel: bool = True  # one weight scale per output channel

    def __post_init__(self) -> None:
        if self.format not in FORMATS:
            raise ValueError(f"format must be one of {', '.join(FORMATS)}, got {self.format!r}")
        if self.calibration not in CALIBRATIONS:
            raise ValueError(f"calibration must be one of {', '.join(CALIBRATIONS)}, got "
                             f"{self.calibration!r}")
        if not 50 < self.percentile <= 100:
            raise ValueError(f"percentile must be in (50, 100], got {self.percentile}")

    def record(self) -> dict:
        """The manifest's description of these options."""
        return {"format": self.format.upper() if self.format == "qdq" else "QOperator",
                "weights": "int8, per channel" if self.per_channel else "int8, per tensor",
                "activations": "uint8, per tensor",
                "calibration": (f"percentile {self.percentile:g}"
                                if self.calibration == "percentile" else self.calibration)}


class _Reader:
    """onnxruntime's CalibrationDataReader over ``inputs`` (N, C, H, W), one crop per call."""

    def __init__(self, input_name: str, inputs: np.ndarray) -> None:
        self._name = input_name
        self._inputs = inputs
        self._items = iter(inputs)

    def rewind(self) -> None:
        self._items = iter(self._inputs)

    def get_next(self) -> dict | None:
        item = next(self._items, None)
        return None if item is None else {self._name: item[None]}


def quantize_int8(source: Path, target: Path, calibration: np.ndarray,
                  options: Int8Options = Int8Options(), keep_float: Sequence[str] = ()) -> None:
    """Write the int8 copy of fp32 ``source`` to ``target``, ranges from ``calibration``
    (N, C, H, W) float32 network inputs. ``keep_float``: names of nodes left in float (for
    measuring mixed copies; the shipped copies quantise every node)."""
    import onnx
    from onnxruntime.quantization import (
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    method = {"minmax": CalibrationMethod.MinMax, "percentile": CalibrationMethod.Percentile,
              "entropy": CalibrationMethod.Entropy}[options.calibration]
    input_name = onnx.load(str(source), load_external_data=False).graph.input[0].name
    with tempfile.TemporaryDirectory(prefix="nightowl-int8-") as folder, \
            warnings.catch_warnings(), _Quiet("root"), \
            contextlib.redirect_stdout(io.StringIO()):  # the calibrators print their progress
        warnings.simplefilter("ignore")  # onnxruntime.quantization's own warnings
        prepared = Path(folder) / "prepared.onnx"
        # onnxruntime's symbolic shape inference fails on these exported graphs; onnx's own
        # shape inference and onnxruntime's graph optimisation still run
        quant_pre_process(str(source), str(prepared), skip_symbolic_shape=True)
        staging = Path(folder) / "int8.onnx"
        quantize_static(
            str(prepared), str(staging), _Reader(input_name, calibration),
            quant_format=QuantFormat.QDQ if options.format == "qdq" else QuantFormat.QOperator,
            per_channel=options.per_channel, activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8, calibrate_method=method,
            extra_options={"CalibPercentile": options.percentile},
            nodes_to_exclude=list(keep_float))
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(staging, target)  # the temporary folder may be on another file system


class _Quiet:
    """Raise a logger's level to ERROR for a block (onnxruntime.quantization warns per tensor)."""

    def __init__(self, name: str) -> None:
        self._logger = logging.getLogger(None if name == "root" else name)

    def __enter__(self) -> None:
        self._level = self._logger.level
        self._logger.setLevel(max(self._level, logging.ERROR))

    def __exit__(self, *exc) -> None:
        self._logger.setLevel(self._level)


def cpu_session(path: Path, threads: int = 1, spinning: bool = True):
    """An onnxruntime CPU session of ``path`` on ``threads`` threads; ``spinning`` False for
    timing (idle threads then sleep instead of spinning on the other cores)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    if not spinning:
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def ms_per_frame(path: Path, channels: int, repeat: int, size: tuple[int, int] = (256, 256)
                 ) -> float:
    """Best of ``repeat`` runs of ``path`` on one onnxruntime thread (no spinning) over a dark
    random (height, width) frame, in ms."""
    session = cpu_session(path, spinning=False)
    frame = np.random.default_rng(0).random((1, channels, *size), dtype=np.float32) / 20
    name = session.get_inputs()[0].name
    session.run(None, {name: frame})
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        session.run(None, {name: frame})
        times.append(time.perf_counter() - start)
    return 1000 * min(times)


def run_cpu(path: Path, inputs: np.ndarray, threads: int = 1) -> np.ndarray:
    """``inputs`` (N, C, H, W) through ``path`` on onnxruntime's CPU provider, one at a time."""
    session = cpu_session(path, threads)
    name = session.get_inputs()[0].name
    return np.concatenate([session.run(None, {name: item[None]})[0] for item in inputs])
