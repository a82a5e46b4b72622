"""A run's settings in one object, read from and written to a TOML file.

``hmrec evaluate|submit|fit --config FILE.toml`` reads one; flags given on the command line
override it; ``hmrec fit`` prints the settings it used and saves them beside the model as
``settings.toml``, which ``--config`` reads back to reproduce the run. Every key is optional (a
missing one keeps its default); an unknown key or a value of the wrong type is an error naming
it. Example::

    model = "ranker"

    [ranker]
    objective = "lambdarank"
    train_weeks = 4
    train_buyers = 30000      # or "all"

    [candidates]
    sources = ["repurchase", "same_product", "bought_together", "popular_age", "popular", "trending"]
    per_source = 50
    cap = 50
    embedding = false

    [tune]
    enabled = false           # leave it out: the ranker keeps its settings, MF chooses its own
    budget = 180.0

    [engine]
    name = "local"            # or "ray"
    workers = 2
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from hmrec.data.engine import ENGINES
from hmrec.evaluation import MODELS
from hmrec.ranking.config import RankerConfig, in_range
from hmrec.ranking.data import CandidateConfig

MODEL_NAMES = tuple(MODELS)
"""The models ``--model`` chooses from, in the order ``evaluate`` reports them."""
ALL = "all"
"""``train_buyers = "all"``: every buyer of a labelled week (TOML has no null)."""


@dataclass(frozen=True)
class Settings:
    """Everything a run of ``evaluate``, ``submit`` or ``fit`` can be told: which model, the
    ranker's and the candidates' settings, tuning, and the engine that runs the work."""

    model: str = "ranker"
    cutoff: str | None = None
    """``evaluate``: first day of the holdout week, YYYY-MM-DD (None: the data's last 7 days)."""
    ranker: RankerConfig = field(default_factory=RankerConfig)
    candidates: CandidateConfig = field(default_factory=CandidateConfig)
    tune: bool | None = None
    """True: the ranker chooses its settings on the weeks before the cutoff; False: no model
    chooses (the MF model keeps its fixed settings); None: each model's default (the MF model
    chooses, the ranker does not)."""
    tune_budget: float = 180.0
    engine: str = "local"
    workers: int = 2
    address: str | None = None

    def __post_init__(self) -> None:
        if self.model not in MODEL_NAMES:
            raise ValueError(f"unknown model {self.model!r}; choose one of {', '.join(MODEL_NAMES)}")
        if self.engine not in ENGINES:
            raise ValueError(f"unknown engine {self.engine!r}; choose one of {', '.join(ENGINES)}")
        in_range(
            "the tuning budget in seconds (--tune-budget, or budget in [tune])", self.tune_budget, 0, 1e7, above=True
        )
        in_range("workers", self.workers, 1, 1024)

    def to_dict(self) -> dict[str, Any]:
        """The TOML document's tables (None values left out: a missing key keeps the default)."""
        ranker = {f.name: getattr(self.ranker, f.name) for f in fields(RankerConfig)}
        ranker["drop_blocks"] = list(self.ranker.drop_blocks)
        if ranker["train_buyers"] is None:
            ranker["train_buyers"] = ALL
        candidates = {f.name: getattr(self.candidates, f.name) for f in fields(CandidateConfig)}
        candidates["sources"] = list(self.candidates.sources)
        top = {"model": self.model, "cutoff": self.cutoff}
        engine = {"name": self.engine, "workers": self.workers, "address": self.address}
        doc = {
            **top,
            "ranker": ranker,
            "candidates": candidates,
            "tune": {"enabled": self.tune, "budget": self.tune_budget},
            "engine": engine,
        }
        return _without_none(doc)

    def to_toml(self) -> str:
        return _toml(self.to_dict())

    def save(self, path: Path) -> Path:
        from hmrec.data.atomic import write_atomic

        return write_atomic(path, lambda tmp: Path(tmp).write_text(self.to_toml()))

    @classmethod
    def from_dict(cls, doc: dict[str, Any], where: str = "settings") -> Settings:
        """Settings from a parsed TOML document; raises ``ValueError`` naming an unknown key or a
        value of the wrong type."""
        doc = dict(doc)
        tables = {name: doc.pop(name, {}) for name in ("ranker", "candidates", "tune", "engine")}
        for name, table in tables.items():
            if not isinstance(table, dict):
                raise ValueError(f"{where}: [{name}] must be a table")
        top = _checked(doc, {"model": str, "cutoff": str}, where, "")
        ranker = _checked(tables["ranker"], _types(RankerConfig), where, "ranker.")
        if ranker.get("train_buyers") == ALL:
            ranker["train_buyers"] = None
        if "drop_blocks" in ranker:
            ranker["drop_blocks"] = tuple(ranker["drop_blocks"])
        candidates = _checked(tables["candidates"], _types(CandidateConfig), where, "candidates.")
        if "sources" in candidates:
            candidates["sources"] = tuple(candidates["sources"])
        tune = _checked(tables["tune"], {"enabled": bool, "budget": float}, where, "tune.")
        engine = _checked(tables["engine"], {"name": str, "workers": int, "address": str}, where, "engine.")
        try:
            return cls(
                **top,
                ranker=RankerConfig(**ranker),
                candidates=CandidateConfig(**candidates),
                **({"tune": tune["enabled"]} if "enabled" in tune else {}),
                **({"tune_budget": float(tune["budget"])} if "budget" in tune else {}),
                **({"engine": engine["name"]} if "name" in engine else {}),
                **{k: v for k, v in engine.items() if k != "name"},
            )
        except ValueError as exc:
            raise ValueError(f"{where}: {exc}") from None

    @classmethod
    def load(cls, path: Path | str) -> Settings:
        """The settings of a TOML file (see the module's example)."""
        path = Path(path)
        try:
            doc = tomllib.loads(path.read_text())
        except FileNotFoundError:
            raise FileNotFoundError(f"{path}: no such settings file") from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ValueError(f"{path}: not a TOML file: {exc}") from None
        return cls.from_dict(doc, str(path))

    def with_flags(
        self,
        *,
        model: str | None = None,
        cutoff: str | None = None,
        train_weeks: int | None = None,
        objective: str | None = None,
        candidates: int | None = None,
        mf_features: bool | None = None,
        tune: bool | None = None,
        tune_budget: float | None = None,
        engine: str | None = None,
        workers: int | None = None,
        address: str | None = None,
    ) -> Settings:
        """These settings with every given (not None) command-line value put over them;
        ``candidates`` sets both the per-source number and the cap, like ``--candidates``."""
        ranker = self.ranker
        if train_weeks is not None or objective is not None:
            ranker = replace(
                ranker,
                train_weeks=ranker.train_weeks if train_weeks is None else train_weeks,
                objective=ranker.objective if objective is None else objective,
            )
        cands = self.candidates
        if candidates is not None:
            cands = replace(cands, per_source=candidates, cap=candidates)
        if mf_features is not None:
            cands = replace(cands, embedding=mf_features)
        given = {
            "model": model,
            "cutoff": cutoff,
            "tune": tune,
            "tune_budget": tune_budget,
            "engine": engine,
            "workers": workers,
            "address": address,
        }
        return replace(self, ranker=ranker, candidates=cands, **{k: v for k, v in given.items() if v is not None})


def _types(config: type) -> dict[str, type]:
    """The TOML type each field of a config dataclass takes (from its default value)."""
    defaults = config()
    types: dict[str, type] = {}
    for f in fields(config):
        value = getattr(defaults, f.name)
        types[f.name] = list if isinstance(value, tuple) else type(value) if value is not None else object
    return types


def _checked(table: dict[str, Any], types: dict[str, type], where: str, prefix: str) -> dict[str, Any]:
    """``table``'s keys, each known and of its type (an int is accepted for a float)."""
    unknown = sorted(set(table) - set(types))
    if unknown:
        raise ValueError(f"{where}: unknown setting(s) {', '.join(prefix + k for k in unknown)}")
    for key, value in table.items():
        want = types[key]
        ok = (
            want is object
            or (want is float and isinstance(value, int | float) and not isinstance(value, bool))
            or (want is int and isinstance(value, int) and not isinstance(value, bool))
            or (want not in (int, float) and isinstance(value, want))
        )
        if key == "train_buyers" and (value == ALL or (isinstance(value, int) and not isinstance(value, bool))):
            ok = True
        if not ok:
            raise ValueError(f"{where}: {prefix}{key} = {value!r} is not a{'n' if want is int else ''} {want.__name__}")
    return dict(table)


def _without_none(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: _without_none(v) if isinstance(v, dict) else v for k, v in doc.items() if v is not None}


_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\t": "\\t", "\r": "\\r"}


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):  # a TOML basic string: quotes, backslashes and control characters escaped
        return (
            '"'
            + "".join(_ESCAPES.get(c) or (f"\\u{ord(c):04x}" if ord(c) < 0x20 or ord(c) == 0x7F else c) for c in value)
            + '"'
        )
    if isinstance(value, list):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {value!r} to TOML")


def _toml(doc: dict[str, Any]) -> str:
    """A TOML document of scalars, lists and one level of tables (all settings need)."""
    lines = [f"{k} = {_value(v)}" for k, v in doc.items() if not isinstance(v, dict)]
    for name, table in doc.items():
        if isinstance(table, dict):
            lines += ["", f"[{name}]", *(f"{k} = {_value(v)}" for k, v in table.items())]
    return "\n".join(lines) + "\n"
