"""Which file of a model each backend runs: the int8 policy.

On the CPU (named, or where auto ends) the int8 copy of the model runs when the manifest lists
one and ``cpu_precision`` is "int8": under half the time of fp32, each copy's distance from
the fp32 output in its manifest entry (bench/README.md, 'int8 on the CPU'). GPU backends
always take the fp32 file.
"""

from __future__ import annotations

import logging

from nightowl.service.modelrepo.files import ModelFile, listed_copy

log = logging.getLogger("nightowl.engines")

CPU_PRECISIONS = ("int8", "fp32")


def cpu_model(model: ModelFile, precision: str) -> ModelFile:
    """The file onnxruntime-cpu runs for ``model``: its listed int8 copy when ``precision`` is
    "int8" and the manifest lists one, else ``model`` itself; logs which and why."""
    if precision == "int8" and model.precision == "fp32":
        copy = listed_copy(model, "int8")
        if copy is not None:
            log.info("engine %s on onnxruntime-cpu runs its int8 copy %s (cpu_precision int8)",
                     model.path.name, copy.path.name)
            return copy
        log.info("engine %s on onnxruntime-cpu runs in fp32: the manifest lists no int8 copy "
                 "of it (make one with `nightowl export --int8`)", model.path.name)
        return model
    log.info("engine %s on onnxruntime-cpu runs in %s (cpu_precision %s)", model.path.name,
             model.precision, precision)
    return model
