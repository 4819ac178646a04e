"""torchmetrics' import of scipy.signal, deferred until something uses scipy.signal.

`import torchmetrics` (which `import lightning` does, to read torchmetrics' version) imports
`scipy.signal` whenever scipy is installed, only to add a `hamming` alias for an audio metric
(`torchmetrics/__init__.py`). scipy.signal brings scipy's linear algebra, statistics,
interpolation and optimization with it: 0.65 s of start-up and 60 MB of resident memory in
every process (`import lightning.pytorch` after torch, 2 cores: 3.85 s / 428 MB -> 3.20 s /
368 MB), for audio metrics no lab head computes. (lab installs scipy for Optuna's CMA-ES and
QMC samplers, which import it themselves when a sweep uses them.)

Within `scipy_signal_deferred()`, the scope in which `lab.config.cli` runs every command-line
tool, the first `import scipy.signal` gives a module whose code runs at its first
use: the first attribute asked of it other than the import system's own and the `hamming`
alias torchmetrics checks for (a function that imports the real window when called). Nothing
of scipy.signal changes for code that uses it; it loads when used, if ever. The finder serves
that one import and takes itself off `sys.meta_path` (at the end of the scope if no import
came), so the import system is as it was. A process that has imported scipy.signal already
is left as it is.

`tests/test_compat.py` checks, in a fresh interpreter, that importing Lightning leaves
scipy.signal unloaded (it fails when torchmetrics starts to use more of it at import) and
that scipy.signal works in full afterwards.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
import threading
import types
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

DEFERRED = "scipy.signal"

# Held while a deferred module runs its code; reentrant: that code's own imports ask the
# module for its submodules (`from . import windows`) and must see it as partly loaded.
_LOAD_LOCK = threading.RLock()
_LOADING: set[str] = set()


def _hamming(*args: Any, **kwargs: Any) -> Any:
    """`scipy.signal.windows.hamming`, imported at the call: the alias torchmetrics adds."""
    from scipy.signal.windows import hamming

    return hamming(*args, **kwargs)


class _DeferredModule(types.ModuleType):
    """A module whose code runs when an attribute it does not hold yet is first asked for."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") and name.endswith("__"):
            # The import system's probes (`__file__`, `__path__`, ... while it sets them up)
            # must not run the code: the module is not in `sys.modules` yet.
            raise AttributeError(name)
        with _LOAD_LOCK:
            if type(self) is _DeferredModule and self.__name__ not in _LOADING:
                loader: _DeferringLoader = self.__loader__  # type: ignore[assignment]
                _LOADING.add(self.__name__)
                try:
                    loader.real.exec_module(self)
                finally:
                    _LOADING.discard(self.__name__)
                self.__loader__ = self.__spec__.loader = loader.real  # type: ignore[union-attr]
                self.__class__ = types.ModuleType  # type: ignore[assignment]
        if type(self) is _DeferredModule:  # its own code is running: partly loaded, as usual
            raise AttributeError(f"partially initialized module {self.__name__!r} has no {name!r}")
        return getattr(self, name)


class _DeferringLoader(importlib.abc.Loader):
    """Creates a `_DeferredModule` holding only `presets`; `real` runs its code later."""

    def __init__(self, real: importlib.abc.Loader, presets: dict[str, Any]) -> None:
        self.real = real
        self.presets = presets

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        return _DeferredModule(spec.name)

    def exec_module(self, module: types.ModuleType) -> None:
        module.__dict__.update(self.presets)


class _DeferringFinder(importlib.abc.MetaPathFinder):
    """Serves one import of `name` with a `_DeferringLoader`, then leaves `sys.meta_path`."""

    def __init__(self, name: str, presets: dict[str, Any]) -> None:
        self.name = name
        self.presets = presets

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: types.ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != self.name:
            return None
        self.remove()
        for finder in sys.meta_path:  # the spec the import would have had
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                break
        else:
            return None
        if spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        spec.loader = _DeferringLoader(spec.loader, self.presets)
        return spec

    def remove(self) -> None:
        if self in sys.meta_path:
            sys.meta_path.remove(self)


@contextmanager
def scipy_signal_deferred() -> Iterator[None]:
    """Within this scope, the process's first `import scipy.signal` gives a module that loads
    its code at first use (see the module docstring); the finder leaves at the end of the
    scope if no import used it. Nothing to do where scipy.signal is imported already."""
    if DEFERRED in sys.modules or any(isinstance(f, _DeferringFinder) for f in sys.meta_path):
        yield
        return
    finder = _DeferringFinder(DEFERRED, {"hamming": _hamming})
    sys.meta_path.insert(0, finder)
    try:
        yield
    finally:
        finder.remove()


def is_deferred(module: types.ModuleType) -> bool:
    """True while `module` is a deferred module whose code has not run yet."""
    return type(module) is _DeferredModule
