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
    train_negatives = 50      # or "all"

    [candidates]
    sources = ["repurchase", "same_product", "bought_together", "popular_age", "popular", "trending"]
    per_source = 100
    cap = 100
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
from functools import cache
from pathlib import Path
from typing import Any

from hmrec.engine import ENGINES
from hmrec.ranking.config import RankerConfig, in_range
from hmrec.ranking.data import CandidateConfig
from hmrec.registry import DEFAULT_MODEL, MODEL_NAMES

TABLES = ("ranker", "candidates", "tune", "engine")
"""The settings file's tables, in the order it is written."""
ALL = "all"
"""``train_buyers = "all"``: every buyer of a labelled week; ``train_negatives = "all"``: every
candidate of a training customer (TOML has no null)."""


@dataclass(frozen=True)
class Settings:
    """Everything a run of ``evaluate``, ``submit`` or ``fit`` can be told: which model, the
    ranker's and the candidates' settings, tuning, and the engine that runs the work."""

    model: str = DEFAULT_MODEL
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
        for key in ("train_buyers", "train_negatives"):
            if ranker[key] is None:
                ranker[key] = ALL
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
        value of the wrong type (the document's shape is checked by pydantic, ``_document``;
        each value's range by the settings' own classes)."""
        from pydantic import ValidationError

        try:
            parsed = _document().model_validate(doc).model_dump(exclude_unset=True)
        except ValidationError as exc:
            raise ValueError(f"{where}: {_problem(exc, doc)}") from None
        tables = {name: parsed.pop(name, {}) for name in TABLES}
        ranker, candidates, tune, engine = (tables[n] for n in TABLES)
        for key in ("train_buyers", "train_negatives"):
            if ranker.get(key) == ALL:
                ranker[key] = None
        for table, key in ((ranker, "drop_blocks"), (candidates, "sources")):
            if key in table:
                table[key] = tuple(table[key])
        try:
            return cls(
                **parsed,
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


TYPE_NAMES = {int: "an int", float: "a float", bool: "a bool", str: "a str", list: "a list", dict: "a table"}


def _kind(value: Any) -> type:
    """The TOML type of a dataclass field's default (a tuple is a list; None: anything)."""
    return list if isinstance(value, tuple) else type(value) if value is not None else object


@cache
def _document() -> type:
    """The pydantic model of a settings document: every table and key of the module's example,
    each of the type its default has (strict: a bool is not an int, text is not a number; an
    int is accepted for a float), and nothing else (an unknown key is refused)."""
    from typing import Literal

    from pydantic import BaseModel, ConfigDict, StrictBool, StrictFloat, StrictInt, StrictStr, create_model

    strict: dict[type, Any] = {
        int: StrictInt,
        float: StrictInt | StrictFloat,
        bool: StrictBool,
        str: StrictStr,
        list: list[StrictStr],
    }
    closed = ConfigDict(extra="forbid")

    def table(name: str, kinds: dict[str, Any]) -> type[BaseModel]:
        return create_model(name, __config__=closed, **{k: (v | None, None) for k, v in kinds.items()})

    def of(config: type) -> dict[str, Any]:
        defaults = config()
        return {f.name: strict.get(_kind(getattr(defaults, f.name)), Any) for f in fields(config)}

    ranker = of(RankerConfig) | {key: StrictInt | Literal["all"] for key in ("train_buyers", "train_negatives")}
    tables = {
        "ranker": table("ranker", ranker),
        "candidates": table("candidates", of(CandidateConfig)),
        "tune": table("tune", {"enabled": StrictBool, "budget": strict[float]}),
        "engine": table("engine", {"name": StrictStr, "workers": StrictInt, "address": StrictStr}),
    }
    top = {"model": StrictStr, "cutoff": StrictStr}
    return table("settings", top | tables)


def _problem(exc: Any, doc: dict[str, Any]) -> str:
    """What is wrong with ``doc``, from pydantic's errors, in the words of the settings file:
    ``unknown setting(s) ranker.leaves``, ``[ranker] must be a table``, ``ranker.train_weeks =
    'two' is not an int``."""
    errors = exc.errors()
    unknown = [".".join(str(p) for p in e["loc"]) for e in errors if e["type"] == "extra_forbidden"]
    if unknown:
        return f"unknown setting(s) {', '.join(sorted(unknown))}"
    first = errors[0]
    path = [p for p in first["loc"] if isinstance(p, str)][:2]
    if len(path) == 1 and path[0] in TABLES:
        return f"[{path[0]}] must be a table"
    value: Any = doc
    for part in path:
        value = value.get(part) if isinstance(value, dict) else None
    key = path[-1]
    defaults = {**_defaults(RankerConfig), **_defaults(CandidateConfig)}
    want = {"enabled": bool, "budget": float, "name": str, "workers": int, "address": str}.get(
        key, _kind(defaults.get(key))
    )
    return f"{'.'.join(path)} = {value!r} is not {TYPE_NAMES.get(want, 'valid')}"


def _defaults(config: type) -> dict[str, Any]:
    defaults = config()
    return {f.name: getattr(defaults, f.name) for f in fields(config)}


def _without_none(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: _without_none(v) if isinstance(v, dict) else v for k, v in doc.items() if v is not None}


def _toml(doc: dict[str, Any]) -> str:
    """The TOML text of ``doc`` (tomli-w: strings escaped as TOML wants them)."""
    import tomli_w

    return tomli_w.dumps(doc)
