"""The GPUs' utilisation, memory and power on /metrics, read through NVML (nvidia-ml-py) at
each scrape. Without the package, its library, a driver or a GPU nothing is exported: a CPU
host shows no GPU series rather than zeros."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from types import ModuleType

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

log = logging.getLogger("nightowl.metrics")
LABELS = ["gpu", "uuid", "name"]  # NVML's index, the device's UUID, its product name


class GpuCollector(Collector):
    """nightowl_gpu_* of every GPU NVML sees (a container sees the devices passed to it)."""

    def __init__(self, nvml: ModuleType, handles: list) -> None:
        self.nvml = nvml  # the pynvml module (or one of its shape)
        self.devices = [(handle, [str(i), _text(nvml.nvmlDeviceGetUUID(handle)),
                                  _text(nvml.nvmlDeviceGetName(handle))])
                        for i, handle in enumerate(handles)]

    @classmethod
    def load(cls, nvml: ModuleType | None = None) -> GpuCollector | None:
        """A collector of the host's GPUs, or None where NVML finds none (or is absent)."""
        if nvml is None:
            try:
                import pynvml as nvml
            except ImportError:
                return None
        try:
            nvml.nvmlInit()
            handles = [nvml.nvmlDeviceGetHandleByIndex(i)
                       for i in range(nvml.nvmlDeviceGetCount())]
            return cls(nvml, handles) if handles else None
        except nvml.NVMLError as error:
            log.debug("no GPU metrics: %s", error)
            return None

    def describe(self) -> list[Metric]:
        return list(self._families())

    def collect(self) -> Iterator[Metric]:
        utilisation, used, total, power = families = self._families()
        for handle, labels in self.devices:
            try:
                rates = self.nvml.nvmlDeviceGetUtilizationRates(handle)
                memory = self.nvml.nvmlDeviceGetMemoryInfo(handle)
            except self.nvml.NVMLError:  # a device lost since start-up: no sample this scrape
                continue
            utilisation.add_metric(labels, rates.gpu / 100.0)
            used.add_metric(labels, float(memory.used))
            total.add_metric(labels, float(memory.total))
            with contextlib.suppress(self.nvml.NVMLError):  # not every board reports it
                power.add_metric(labels, self.nvml.nvmlDeviceGetPowerUsage(handle) / 1000.0)
        yield from families

    @staticmethod
    def _families() -> tuple[GaugeMetricFamily, ...]:
        return (GaugeMetricFamily("nightowl_gpu_utilization", "Fraction of the last sample "
                                  "period the GPU was busy (NVML), 0 to 1", labels=LABELS),
                GaugeMetricFamily("nightowl_gpu_memory_used_bytes", "GPU memory in use, all "
                                  "processes", labels=LABELS),
                GaugeMetricFamily("nightowl_gpu_memory_total_bytes", "GPU memory installed",
                                  labels=LABELS),
                GaugeMetricFamily("nightowl_gpu_power_watts", "GPU power draw", labels=LABELS))


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value
