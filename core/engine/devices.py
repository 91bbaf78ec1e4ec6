"""Device choice: auto picks CUDA, then Apple MPS, then the CPU.

torch is imported when a device is resolved, not with the module: the worker and the CLI import
this module on their way to the store, and neither needs torch for that.
"""

from __future__ import annotations

from core.errors import SpecError


def resolve_device(name: str = "auto") -> str:
    """'auto' | 'cpu' | 'cuda' | 'cuda:N' | 'mps' -> a concrete torch device string."""
    import torch

    name = (name or "auto").strip().lower()
    if name == "auto":
        if torch.cuda.is_available():
            return "cuda:0"
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return "mps"
        return "cpu"
    if name == "cpu":
        return "cpu"
    if name == "mps":
        if not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
            raise SpecError("device mps is not available on this machine; use --device auto or cpu")
        return "mps"
    if name.startswith("cuda"):
        index = name.partition(":")[2] or "0"
        if not index.isdigit():
            raise SpecError(f"bad device {name!r}: use cuda:N with N a number")
        if not torch.cuda.is_available() or int(index) >= torch.cuda.device_count():
            raise SpecError(
                f"device {name} is not available (this machine has "
                f"{torch.cuda.device_count()} CUDA devices); use --device auto or cpu"
            )
        return f"cuda:{index}"
    raise SpecError(f"unknown device {name!r}: use auto, cpu, cuda:N or mps")
