"""The frozen numpy engine (reference only), loadable in float32 (as it ran) or float64.

``load(np.float64)`` gives a module with the same API as the old engine (``simulate_frame``,
``Cohort``, ``WeeklyDraws`` ...) whose state is float64 while the weekly draws stay float32,
which is what the compiled kernels compute; ``load(np.float32)`` is the engine as it shipped.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import numpy as np

_SOURCE = Path(__file__).with_name("engine.py")


def load(dtype: type = np.float32) -> ModuleType:
    """The reference engine module computing in ``dtype`` (loaded once per dtype)."""
    name = f"numpy_reference_{np.dtype(dtype).name}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, _SOURCE)
    module = importlib.util.module_from_spec(spec)
    module.REQUESTED_FLOAT = np.dtype(dtype).type
    sys.modules[name] = module  # dataclasses look the module up while the class is built
    spec.loader.exec_module(module)
    return module
