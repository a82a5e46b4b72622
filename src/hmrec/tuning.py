"""Settings chosen by validation on the data's own earlier weeks, within a time budget.

It sits below ``two_stage.py``, which calls it: each trial fits the whole two-stage model through
the ``make`` callable the pipeline passes (a model with the trial's settings), so this module
never imports the pipeline.

Tuning for a model fitted at ``cutoff`` reads only rows before ``cutoff``: each trial fits the
ranker as it would be fitted, but for validation cutoffs one, two, ... weeks earlier, and is
scored (MAP@12) on the week from each. So the week the model is finally judged on (or the
unknown week a submission predicts) never takes part in choosing its settings.

The search is greedy, one setting at a time (the taste-matched popularity source, objective,
tree size, training weeks, candidates, the MF features): each alternative is tried against the
best so far and kept only when its gain is more than twice its standard error. The gain is the mean, over the validation weeks' buyers,
of the change in each buyer's AP@12 (the same buyers under both settings, so the comparison is
paired); its standard error is that of a mean of those changes. A change within that noise may
not hold on the next week, so the settings in hand are kept. A trial that would not fit in what
is left of the budget is skipped.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import date, timedelta

import polars as pl

from hmrec.data.split import Split
from hmrec.data.split import buyers as week_buyers
from hmrec.data.split import history as before
from hmrec.data.week import WeekInput
from hmrec.metrics import average_precisions, paired_gain
from hmrec.ranking.config import RankerConfig
from hmrec.ranking.data import RULE_SOURCES, CandidateConfig, WeekCache
from hmrec.recommenders.base import Recommender
from hmrec.schema import K

Make = Callable[[RankerConfig, CandidateConfig, WeekCache], Recommender]
"""A two-stage model with these settings, sharing labelled weeks through the cache (not fitted)."""
Change = tuple[dict[str, object], dict[str, object]]
"""A trial's change: RankerConfig fields, CandidateConfig fields."""

NO_TASTE = tuple(s for s in RULE_SOURCES if s != "popular_taste")
"""The default sources without taste-matched popularity (``retrieval/taste.py``): on the matrix
it helped every profile and was noise on the real shop, so the shop's own weeks may drop it."""

SEARCH: tuple[tuple[str, tuple[Change, ...]], ...] = (
    ("taste source", (({}, {"sources": NO_TASTE}),)),
    ("objective", (({"objective": "binary"}, {}),)),
    (
        "tree size",
        (({"num_leaves": 15, "min_data_in_leaf": 200}, {}), ({"num_leaves": 63, "min_data_in_leaf": 20}, {})),
    ),
    ("training weeks", (({"train_weeks": 8}, {}), ({"train_weeks": 2}, {}))),
    ("candidates", (({}, {"per_source": 200, "cap": 200}),)),
    ("mf features", (({}, {"embedding": True}),)),
)
"""What ``--tune`` tries, one setting after another, each against the best so far."""


@dataclass(frozen=True)
class Trial:
    """One setting tried: what it changed, its validation MAP@12 per week and on average, its cost."""

    label: str
    ranker: RankerConfig
    candidates: CandidateConfig
    maps: tuple[float, ...]
    seconds: float
    kept: bool = False
    aps: pl.DataFrame | None = field(default=None, repr=False, compare=False)
    """``week, customer, ap``: each validation buyer's AP@12 (what ``paired_gain`` compares)."""
    gain: float | None = None
    """The mean change of a buyer's AP@12 against the best settings before this trial."""
    se: float | None = None
    """The standard error of ``gain``."""

    @property
    def mean(self) -> float:
        return sum(self.maps) / len(self.maps)


@dataclass(frozen=True)
class TuneResult:
    """The chosen settings, every trial in order, and the budget left unused by skipped trials."""

    ranker: RankerConfig
    candidates: CandidateConfig
    trials: list[Trial]
    skipped: list[str] = field(default_factory=list)
    validation_weeks: tuple[date, ...] = ()

    def reason(self) -> str:
        """One line: what was chosen and why."""
        base = self.trials[0]
        best = [t for t in self.trials if t.kept][-1]  # each kept trial beat the one kept before
        kept = [t.label for t in self.trials[1:] if t.kept]
        if not kept:
            why = "no change beat the defaults on the validation weeks"
        else:
            why = f"kept {', '.join(kept)}: MAP@12 {base.mean:.5f} -> {best.mean:.5f} on the validation weeks"
        why += "; a change is kept only above twice its standard error"
        weeks = ", ".join(str(w) for w in self.validation_weeks)
        skipped = f"; skipped for the budget: {', '.join(self.skipped)}" if self.skipped else ""
        return f"{why} (from {weeks}){skipped}"

    def meta(self) -> dict[str, object]:
        """What is saved with the model."""
        return {
            "chosen": {"ranker": asdict(self.ranker), "candidates": asdict(self.candidates)},
            "reason": self.reason(),
            "validation_weeks": [str(w) for w in self.validation_weeks],
            "trials": [
                {
                    "setting": t.label,
                    "maps": list(t.maps),
                    "mean": t.mean,
                    "gain": t.gain,
                    "se": t.se,
                    "seconds": t.seconds,
                    "kept": t.kept,
                }
                for t in self.trials
            ],
            "skipped": self.skipped,
        }


def _describe(change: Change) -> str:
    ranker, candidates = change
    parts = []
    for k, v in {**ranker, **candidates}.items():
        if k == "sources":  # the sources it adds to or takes from the defaults
            assert isinstance(v, tuple)
            parts.append(
                "sources "
                + " ".join(
                    [f"+{s}" for s in v if s not in RULE_SOURCES] + [f"-{s}" for s in RULE_SOURCES if s not in v]
                )
            )
        elif k != "cap":
            parts.append(f"{k}={v}")
    return ", ".join(parts)


def _cost(trials: Sequence[Trial], ranker: RankerConfig, candidates: CandidateConfig) -> float:
    """About how long a trial of these settings takes: the slowest trial that reused the labelled
    weeks of the same candidates (only its trees were fitted), else the trial that labelled them,
    else the first trial; scaled by the weeks and candidates it fits on."""
    same = [t for t in trials if t.candidates == candidates]
    like = max(same[1:], key=lambda t: t.seconds) if len(same) > 1 else same[0] if same else trials[0]
    weeks = (ranker.train_weeks + 1) / (like.ranker.train_weeks + 1)
    return like.seconds * weeks * candidates.cap / like.candidates.cap


def validation_aps(
    transactions: pl.LazyFrame,
    cutoffs: Sequence[date],
    make: Make,
    ranker: RankerConfig,
    candidates: CandidateConfig,
    cache: WeekCache,
) -> pl.DataFrame:
    """``week, customer, ap``: the ranker's AP@12 of every buyer of the week from each of
    ``cutoffs`` (``week`` its position), the ranker fitted on the weeks before it."""
    weeks = []
    for i, cutoff in enumerate(cutoffs):
        split = Split.at(transactions, cutoff)
        truth = split.truth.collect()
        buyers = week_buyers(truth)
        if buyers.is_empty():
            raise ValueError(f"nobody bought anything in the validation week from {cutoff}: cannot tune")
        recs = make(ranker, candidates, cache).fit(WeekInput.before(split.history, cutoff, buyers)).recommend(buyers, K)
        weeks.append(average_precisions(recs, truth, K).select(pl.lit(i, pl.UInt8).alias("week"), pl.all()))
    return pl.concat(weeks)


def _maps(aps: pl.DataFrame, weeks: int) -> tuple[float, ...]:
    means = dict(aps.group_by("week").agg(pl.col("ap").mean()).iter_rows())
    return tuple(float(means.get(i, 0.0)) for i in range(weeks))


def tune(
    transactions: pl.LazyFrame,
    cutoff: date,
    make: Make,
    ranker: RankerConfig,
    candidates: CandidateConfig,
    budget_s: float,
    weeks: int = 2,
    search: Sequence[tuple[str, Sequence[Change]]] = SEARCH,
    on_trial: Callable[[Trial], None] | None = None,
    caches: dict[CandidateConfig, WeekCache] | None = None,
) -> TuneResult:
    """Choose ranker and candidate settings for a model fitted at ``cutoff``, on the ``weeks``
    weeks before it (only rows before ``cutoff`` are read; at least two), within about ``budget_s``
    seconds.

    The defaults (``ranker``, ``candidates``) are always scored first; then each group of
    ``search`` in turn, each change applied to the best settings so far. ``caches`` (labelled
    weeks per candidate settings) is filled for the caller to reuse."""
    if weeks < 2:
        raise ValueError(f"tuning needs at least two validation weeks, got {weeks}")
    if budget_s <= 0:
        raise ValueError(f"the tuning budget must be positive, got {budget_s} s")
    seen = before(transactions, cutoff)
    cutoffs = tuple(cutoff - timedelta(days=7 * k) for k in range(1, weeks + 1))
    caches = {} if caches is None else caches
    start = time.perf_counter()

    def run(label: str, r: RankerConfig, c: CandidateConfig, against: Trial | None) -> Trial:
        """Score the settings; kept when they beat ``against`` beyond twice the error (or there is
        nothing to beat: the defaults)."""
        began = time.perf_counter()
        aps = validation_aps(seen, cutoffs, make, r, c, caches.setdefault(c, WeekCache()))
        trial = Trial(label, r, c, _maps(aps, len(cutoffs)), time.perf_counter() - began, kept=True, aps=aps)
        if against is not None:
            assert against.aps is not None
            gain, se = paired_gain(aps, against.aps)
            trial = replace(trial, gain=gain, se=se, kept=gain > 2 * se)
        if on_trial:
            on_trial(trial)
        return trial

    best = run("defaults", ranker, candidates, None)
    trials, skipped = [best], []
    for _group, changes in search:
        for change in changes:
            r, c = replace(best.ranker, **change[0]), replace(best.candidates, **change[1])
            if time.perf_counter() - start + _cost(trials, r, c) > budget_s:
                skipped.append(_describe(change))
                continue
            trial = run(_describe(change), r, c, best)
            if trial.kept:
                best = trial
            trials.append(trial)
    return TuneResult(best.ranker, best.candidates, trials, skipped, cutoffs)
