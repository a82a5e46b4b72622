"""What a model is built with beyond the data (``ModelOptions``): the ranker's and the
candidates' settings, where its files go, progress callbacks, tuning, the engine."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from hmrec.engine import Engine, LocalEngine
from hmrec.ranking.config import RankerConfig
from hmrec.ranking.data import CandidateConfig, WeekCache

if TYPE_CHECKING:
    from hmrec.recommenders.mf.choice import Choice
    from hmrec.tuning import TuneResult


@dataclass(frozen=True)
class ModelOptions:
    """What a model takes beyond the data: its settings, where to save it, a progress callback,
    and a cache of labelled weeks to share between fits (each model reads what concerns it)."""

    ranker: RankerConfig = field(default_factory=RankerConfig)
    candidates: CandidateConfig = field(default_factory=CandidateConfig)
    artifacts: Path | None = None
    on_step: Callable[[str], None] | None = None
    cache: WeekCache | None = None
    tune_budget: float | None = None
    """Seconds for choosing the ranker's settings on the weeks before the cutoff (None: no tuning)."""
    on_tuned: Callable[[TuneResult], None] | None = None
    engine: Engine = field(default_factory=LocalEngine)
    """Runs the ranker's per-customer work (``hmrec/engine/``); never changes a result."""
    mf_choose: bool = True
    """The MF model chooses its settings on the week before the cutoff (False: its fixed ones)."""
    on_mf_choice: Callable[[Choice], None] | None = None
    """Called with what the MF model tried and chose, once it has chosen."""
    explain: bool = False
    """The ranker's holdout recommendations carry the features that moved each score most
    (``explain``; about 40 us a recommendation)."""
