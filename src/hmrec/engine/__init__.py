"""Engines run the per-customer work of a week: ``local`` (``base.LocalEngine``, in this
process) or ``ray`` (``ray_engine.RayEngine``, shards of customers as Ray tasks). Both give the
same frames; the engine is a deployment choice, never a model choice (docs/scale-out.md)."""

from __future__ import annotations

from hmrec.data.dataset import Dataset
from hmrec.engine.base import ENGINES, RAY_INSTALL, Engine, EngineError, LocalEngine, OnPart, Work

__all__ = ["ENGINES", "RAY_INSTALL", "Engine", "EngineError", "LocalEngine", "OnPart", "Work", "make_engine"]


def make_engine(
    name: str, dataset: Dataset, workers: int = 2, address: str | None = None, shards: int | None = None
) -> Engine:
    """The engine ``name`` (one of ``ENGINES``); use it in a ``with`` block."""
    if name == "local":
        return LocalEngine()
    if name == "ray":
        from hmrec.engine.ray_engine import RayEngine, ray_module

        ray_module()  # fail now, with the install hint, rather than after the fitting
        return RayEngine(dataset, workers=workers, address=address, shards=shards)
    raise ValueError(f"unknown engine {name!r}; choose {' or '.join(ENGINES)}")
