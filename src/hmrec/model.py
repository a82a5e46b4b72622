"""A fitted model that outlives the command that fitted it: saved to a folder, loaded, and
pointed at any data in the same format (for example the same log with a newer week appended)
to score it without fitting again.

What is learned is kept (the ranker's trees, the MF factors, the fill list); what is read from
the data (candidates, features, the customers' own purchases) is computed from the data at hand,
at the day after its last transaction. Ids cross the boundary as Kaggle ids: a saved model names
its articles (and the MF model its customers) by id, and is re-indexed to the prepared ids of
the data it scores.

A model folder holds ``model.json`` (the hmrec version, the model format, the model's name, its
cutoff, the fill list), ``settings.toml`` (the settings it was fitted with, which ``--config``
reads back), ``articles.parquet`` (the catalogue it was fitted on), and the model's own state:
``ranker/`` (LightGBM's ``model.txt``, the feature list, the importance) or ``mf.pt`` with
``customers.parquet``, and last ``manifest.json`` (every file's size and SHA-256), checked
before anything is read. A saved model is data: ``mf.pt`` holds tensors and plain values and is
read with ``torch.load(weights_only=True)``, so no code in it ever runs.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import polars as pl

from hmrec.data import outputs
from hmrec.data.atomic import locked, staged, write_atomic
from hmrec.data.dataset import Dataset
from hmrec.data.submission import refuse_submission_path, write_submission
from hmrec.engine import Engine, LocalEngine
from hmrec.evaluation import everything, scoring_cutoff
from hmrec.recommenders.base import Recommender, source_lists
from hmrec.schema import INDEX_DTYPE, Col, K
from hmrec.settings import Settings
from hmrec.text import cut, first_line
from hmrec.version import __version__

MODEL_FORMAT = 2
"""The layout of a model folder; a folder of another format is refused (fit it again)."""
MODEL_FILE = "model.json"
SETTINGS_FILE = "settings.toml"
ARTICLES_FILE = "articles.parquet"
CUSTOMERS_FILE = "customers.parquet"
RANKER_DIR = "ranker"
MF_FILE = "mf.pt"


class ModelError(ValueError):
    """A saved model that cannot score the data at hand; the message says what to do."""


def _articles(dataset: Dataset, values: list, to_ids: bool) -> list:
    """Article indices of ``dataset`` as Kaggle ids (``to_ids``), or ids as its indices, in order."""
    key, other = (Col.ARTICLE, Col.ARTICLE_ID) if to_ids else (Col.ARTICLE_ID, Col.ARTICLE)
    frame = pl.DataFrame({key: pl.Series(values, dtype=dataset.article_map().collect_schema()[key])})
    found = frame.join(dataset.article_map().collect(), on=key, how="left", maintain_order="left")
    return found[other].to_list()


@dataclass
class Model:
    """A fitted recommender with its settings. ``recommend`` scores a dataset (by default the
    one it was fitted on); ``save`` writes it to a folder and ``Model.load`` reads it back."""

    name: str
    settings: Settings
    cutoff: date
    """The day after the last transaction it was fitted on."""
    fill: list[str]
    """The fill list, as article ids: what customers with too few articles of their own get."""
    articles: pl.Series
    """The article ids of the catalogue it was fitted on, in that data's index order."""
    state: Any = None
    """What was learned: a ``FittedRanker`` (ranker), an MF ``_MFState``, or None (rules)."""
    version: str = __version__
    bound: tuple[tuple[Path, date], Recommender] | None = field(default=None, repr=False)
    """The recommender ready to score one prepared dataset (its root and scoring cutoff): the
    fitted one, or one rebuilt for other data (``_bind``)."""
    tuning: dict[str, Any] | None = None
    """What ``--tune`` tried and chose, when the settings were tuned (saved in ``model.json``)."""
    on_step: Callable[[str], None] | None = field(default=None, repr=False)
    engine: Engine = field(default_factory=LocalEngine, repr=False)

    @classmethod
    def fitted(cls, name: str, settings: Settings, dataset: Dataset, recommender: Recommender, cutoff: date) -> Model:
        """The model of ``recommender``, fitted on ``dataset`` before ``cutoff``."""
        articles = dataset.article_map().sort(Col.ARTICLE).collect()[Col.ARTICLE_ID]
        state: Any = None
        tuning = None
        if name == "ranker":
            from hmrec.pipeline import TwoStageRecommender

            assert isinstance(recommender, TwoStageRecommender)
            state = recommender.ranker
            tuning = recommender.tuning.meta() if recommender.tuning is not None else None
        elif name == "mf":
            state = _MFState.of(recommender, dataset)
            choice = getattr(recommender, "choice", None)
            tuning = {"model": "mf", **choice.to_dict()} if choice is not None else None
        fill = _articles(dataset, recommender.popular, to_ids=True)
        model = cls(name, settings, cutoff, fill, articles, state, tuning=tuning)
        model.bound = ((dataset.root, cutoff), recommender)
        return model

    # scoring

    def recommender_for(self, dataset: Dataset) -> Recommender:
        """The recommender that scores ``dataset``: fitted state, that data's rows and ids."""
        key = (dataset.root, scoring_cutoff(dataset))  # the same folder prepared again is other data
        if self.bound is not None and self.bound[0] == key:
            recommender = self.bound[1]
            if self.name == "ranker":  # the engine and progress of this call, not of the fit
                from hmrec.pipeline import TwoStageRecommender

                assert isinstance(recommender, TwoStageRecommender)
                recommender.engine, recommender.on_step = self.engine, self.on_step
            return recommender
        recommender = self._bind(dataset)
        self.bound = (key, recommender)
        return recommender

    def _bind(self, dataset: Dataset) -> Recommender:
        self.check_catalogue(dataset)
        fill = _articles(dataset, self.fill, to_ids=False)
        week = everything(dataset)
        if self.name == "popular":
            from hmrec.recommenders.baselines import PopularRecommender

            return PopularRecommender(popular=fill)
        if self.name == "repurchase":
            from hmrec.recommenders.baselines import RepurchaseRecommender

            return RepurchaseRecommender(popular=fill).refresh(week)
        if self.name == "ranker":
            from hmrec.pipeline import TwoStageRecommender
            from hmrec.ranking.data import Tables

            ranker = TwoStageRecommender(
                Tables(dataset.articles(), dataset.customers()),
                candidates=self.settings.candidates,
                config=self.settings.ranker,
                engine=self.engine,
                on_step=self.on_step,
                ranker=self.state,
                popular=fill,
            )
            return ranker.refresh(week)
        assert self.name == "mf"
        return self.state.bind(dataset, fill).refresh(week)

    def staleness(self, dataset: Dataset) -> str | None:
        """A warning when ``dataset`` ends before the data this model was fitted on did: it would
        score a week the model has already seen the purchases of."""
        scored = scoring_cutoff(dataset)
        if scored >= self.cutoff:
            return None
        return (
            f"the data ends {scored - timedelta(days=1)}, before the {self.cutoff - timedelta(days=1)} the model's data "
            f"ended: it scores the week from {scored}, whose purchases it was fitted on (its scores there are "
            "optimistic); give it the newer data, or fit it on this data (hmrec fit)"
        )

    def check_catalogue(self, dataset: Dataset) -> None:
        """Refuse data whose catalogue lacks articles the model was fitted with."""
        known = dataset.article_map().select(Col.ARTICLE_ID).collect()[Col.ARTICLE_ID]
        missing = self.articles.filter(~self.articles.is_in(known.implode()))
        if missing.len():
            raise ModelError(
                f"the data's catalogue lacks {missing.len():,} of the {self.articles.len():,} articles this "
                f"{self.name} model was fitted with (e.g. {missing[0]}): it was fitted on another shop or "
                "catalogue. Fit it on this data instead: hmrec fit --data DIR --out MODEL_DIR"
            )

    def recommend(
        self,
        dataset: Dataset,
        customers: Any = None,
        k: int = K,
        details: bool = False,
        kaggle_ids: bool = True,
        explain: bool = False,
    ) -> pl.DataFrame:
        """``k`` articles for each customer: ``customer_id, article_id, rank`` (Kaggle ids), with
        ``details`` also ``score`` and ``sources`` (a list of the candidate sources that proposed
        the article; ``popular fill`` for the fill list), and with ``explain`` (the ranker only)
        also ``explain``: the three features that moved each ranked article's score most, as
        ``{feature, contribution}`` (LightGBM's per-row contributions; null for the fill).

        ``customers`` are Kaggle customer ids (default: every customer of the submission, in its
        order); an id the data does not know is a customer without purchases: the fill list. With
        ``kaggle_ids=False``, and ``customers`` then prepared indices, the frame keeps the indices
        (``customer, article``; ``sources`` joined by commas, as the serving files hold them).
        ``customers`` may be any sequence of ids (a list, a polars or pandas Series, ...)."""
        customers = _series(customers)
        recommender = self.recommender_for(dataset)
        more: dict[str, bool] = {}
        if explain:
            if self.name != "ranker":
                raise ValueError(f"explain=True needs the ranker: the {self.name} model has no features to explain")
            more["explain"] = True
        if not kaggle_ids:
            who = dataset.submission_customers().collect()[Col.CUSTOMER] if customers is None else customers
            return recommender.recommend(who.cast(pl.UInt32), k, details, **more)
        asked = _asked(dataset, customers)
        recs = recommender.recommend(asked[Col.CUSTOMER], k, details, **more)
        out = (
            asked.join(recs, on=Col.CUSTOMER, how="left")
            .sort("__pos", Col.RANK)
            .join(dataset.article_map().collect(), on=Col.ARTICLE, how="left")
        )
        extra = [Col.SCORE, source_lists()] if details or explain else []
        return out.select(Col.CUSTOMER_ID, Col.ARTICLE_ID, Col.RANK, *extra, *(["explain"] if explain else []))

    def submission_recommendations(self, dataset: Dataset, explain: bool = False) -> pl.DataFrame:
        """What the submission of ``dataset`` is made of: ``k`` articles for every customer of it,
        in prepared indices, with score and sources (and with ``explain``, the ranker's reasons:
        about 40 us a recommendation, 11 minutes for 1.37M customers)."""
        return self.recommend(dataset, details=True, kaggle_ids=False, explain=explain)

    def similar_items(self, article_ids: Any, k: int = 10, *, dataset: Dataset | None = None) -> pl.DataFrame:
        """For each Kaggle article id of ``article_ids``, at most ``k`` similar articles from the
        history of ``dataset`` (default: the data the model was fitted on): what its buyers also
        bought within a week, the other articles of its product, and (an MF model) its nearest
        articles by the model's factors; ``article_id, similar_article_id, rank, sources`` (the
        signals that found it: ``bought_together``, ``same_product``, ``embedding``). An id the
        catalogue does not hold raises ``ValueError`` naming it."""
        from hmrec.retrieval.similar import OTHER, similar_articles

        if dataset is None:
            if self.bound is None:
                raise ValueError("a loaded model needs the data to look in: similar_items(ids, k, dataset=data)")
            dataset = Dataset(self.bound[0][0])
        if isinstance(article_ids, str):
            article_ids = [article_ids]
        asked = pl.DataFrame({Col.ARTICLE_ID: [str(a).zfill(10) for a in article_ids]}).unique(maintain_order=True)
        amap = dataset.article_map().collect()
        found = asked.join(amap, on=Col.ARTICLE_ID, how="left", maintain_order="left")
        unknown = found.filter(pl.col(Col.ARTICLE).is_null())[Col.ARTICLE_ID].to_list()
        if unknown:
            raise ValueError(f"article id(s) not in the catalogue: {', '.join(cut(a) for a in unknown[:5])}")
        factors = self.article_factors(dataset) if self.name == "mf" else None
        similar = similar_articles(everything(dataset), found[Col.ARTICLE], k, factors)
        names = amap.rename({Col.ARTICLE: OTHER, Col.ARTICLE_ID: "similar_article_id"})
        return (
            found.with_row_index("__pos")
            .join(similar, on=Col.ARTICLE)
            .join(names, on=OTHER, how="left")
            .sort("__pos", "rank")
            .select(Col.ARTICLE_ID, "similar_article_id", "rank", Col.SOURCES)
        )

    def article_factors(self, dataset: Dataset) -> Any:
        """The MF model's article factors (a numpy matrix, one row per prepared article index)."""
        recommender = self.recommender_for(dataset)
        return recommender.model.article.weight.detach().cpu().numpy()  # type: ignore[attr-defined]

    def write_submission(
        self,
        dataset: Dataset,
        path: Path | str,
        customers: Any = None,
        recommendations: pl.DataFrame | None = None,
    ) -> pl.DataFrame:
        """Write the Kaggle submission for ``dataset`` to ``path`` (written whole or not at all):
        ``customer_id,prediction`` for every customer of the submission, in its order, or for
        ``customers`` (Kaggle ids) in theirs. Returns the recommendations it was made of (for the
        submission: prepared indices, with score and sources, or ``recommendations`` when given,
        from ``submission_recommendations``; for ``customers``: Kaggle ids)."""
        if customers is None:
            recs = self.submission_recommendations(dataset) if recommendations is None else recommendations
            write_submission(dataset, recs, Path(path))
            return recs
        refuse_submission_path(dataset, Path(path))
        recs = self.recommend(dataset, customers)
        frame = recs.group_by(Col.CUSTOMER_ID, maintain_order=True).agg(
            pl.col(Col.ARTICLE_ID).str.join(" ").alias(Col.PREDICTION)
        )
        write_atomic(Path(path), frame.write_csv)
        return recs

    @property
    def fill_indices(self) -> list[int]:
        """The fill list as indices of the data the model is bound to."""
        if self.bound is None:
            raise ModelError("recommend with the model first: the fill list is read in that data's ids")
        return list(self.bound[1].popular)

    # saving

    def save(self, folder: Path | str) -> Path:
        """Write the model to ``folder`` (replaced whole, or left as it was on an error); the
        manifest of every file's size and SHA-256 is written last."""
        folder = Path(folder)
        with staged(folder) as tmp:
            meta = {
                "hmrec_version": self.version,
                "format": MODEL_FORMAT,
                "model": self.name,
                "cutoff": self.cutoff.isoformat(),
                "fill": self.fill,
                **({"tuning": self.tuning} if self.tuning else {}),
            }
            (tmp / MODEL_FILE).write_text(json.dumps(meta, indent=2))
            (tmp / SETTINGS_FILE).write_text(self.settings.to_toml())
            pl.DataFrame({Col.ARTICLE_ID: self.articles}).write_parquet(tmp / ARTICLES_FILE)
            if self.name == "ranker":
                self.state.save(tmp / RANKER_DIR, {"cutoff": self.cutoff.isoformat()})
            elif self.name == "mf":
                self.state.save(tmp)
            write_manifest(tmp)
        return folder

    @classmethod
    def load(cls, folder: Path | str) -> Model:
        """The model ``save`` wrote to ``folder``; refuses a folder written by an hmrec whose
        model format differs, with what to do, and a folder whose files are not the ones it was
        saved with (``manifest.json``), or that cannot be read, naming the file. While another run
        saves a model to ``folder`` it waits for it (the folder's lock), so it never reads half of
        one run's files and half of another's."""
        folder = Path(folder)
        with ExitStack() as stack:
            try:
                if folder.is_dir():  # (never a lock, nor its parent folders, for a path that is not there)
                    stack.enter_context(locked(folder, wait=True))
            except OSError:  # a folder we may not write beside: read it as it is
                pass
            return cls._read(folder)

    @classmethod
    def _read(cls, folder: Path) -> Model:
        path = folder / MODEL_FILE
        if not path.is_file():
            raise ModelError(f"{folder}: not a saved hmrec model ({MODEL_FILE} is missing); write one with hmrec fit")
        try:
            meta = json.loads(path.read_text())
            version, fmt = str(meta.get("hmrec_version", "?")), meta.get("format")
        except (json.JSONDecodeError, UnicodeDecodeError, AttributeError) as exc:
            raise ModelError(f"{path}: unreadable ({cut(str(exc), 200)}); fit the model again with hmrec fit") from None
        if not isinstance(fmt, int) or isinstance(fmt, bool):
            raise ModelError(
                f"{path}: damaged (its model format is {cut(repr(fmt), 40)}); fit the model again with hmrec fit"
            )
        if fmt != MODEL_FORMAT:
            raise ModelError(
                f"{folder} was saved by hmrec {version} (model format {cut(str(fmt), 40)}); this is hmrec "
                f"{__version__}, which reads model format {MODEL_FORMAT}. Fit it again with this version "
                f"(hmrec fit --data DIR --out {folder}), or score it with hmrec {version}"
            )
        check_manifest(folder)
        name, cutoff, fill = _meta_fields(meta, path)
        with _reading(folder / SETTINGS_FILE):
            settings = Settings.load(folder / SETTINGS_FILE)
        articles = _id_column(folder / ARTICLES_FILE, Col.ARTICLE_ID)
        state: Any = None
        if name == "ranker":
            from hmrec.ranking.model import FittedRanker

            with _reading(folder / RANKER_DIR):
                state = FittedRanker.load(folder / RANKER_DIR)
            _check_ranker_settings(state.features, settings, folder / SETTINGS_FILE)
        elif name == "mf":
            state = _MFState.load(folder, articles)
        tuning = meta.get("tuning")
        return cls(
            name, settings, cutoff, fill, articles, state, version, tuning=tuning if isinstance(tuning, dict) else None
        )


MANIFEST_FILE = "manifest.json"
"""A model folder's list of its files with their sizes and SHA-256, written last."""


def _digest(path: Path) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def _files(folder: Path) -> list[Path]:
    """The model's files under ``folder`` (the manifest and the owner mark left out)."""
    skip = {MANIFEST_FILE, outputs.OWNER_FILE}
    return [p for p in sorted(folder.rglob("*")) if p.is_file() and p.name not in skip]


def write_manifest(folder: Path) -> None:
    """Write ``manifest.json``: the size and SHA-256 of every file of the model in ``folder``."""
    files = {str(p.relative_to(folder)): {"size": p.stat().st_size, "sha256": _digest(p)} for p in _files(folder)}
    (folder / MANIFEST_FILE).write_text(json.dumps({"files": files}, indent=1))


def check_manifest(folder: Path) -> None:
    """Raise :class:`ModelError` naming the first file of ``folder`` that is missing, or whose
    size or SHA-256 differs from what ``manifest.json`` recorded when the model was saved."""
    path = folder / MANIFEST_FILE
    again = "fit the model again with hmrec fit"
    if not path.is_file():
        raise ModelError(f"{path}: missing, so the model folder cannot be checked (a save that did not end?); {again}")
    try:
        files = json.loads(path.read_text())["files"]
        listed = {str(k): (int(v["size"]), str(v["sha256"])) for k, v in files.items()}
    except (ValueError, KeyError, TypeError, AttributeError, UnicodeDecodeError):
        raise ModelError(f"{path}: damaged (not the manifest hmrec writes); {again}") from None
    for required in (MODEL_FILE, SETTINGS_FILE, ARTICLES_FILE):
        if required not in listed:
            raise ModelError(f"{path}: does not list {required}; {again}")
    for name, (size, sha) in listed.items():
        file = folder / name
        if Path(name).is_absolute() or ".." in Path(name).parts:
            raise ModelError(f"{path}: names a file outside the model folder ({cut(name, 80)}); {again}")
        if not file.is_file():
            raise ModelError(f"{file}: missing from the saved model; {again}")
        if file.stat().st_size != size or _digest(file) != sha:
            raise ModelError(f"{file}: damaged or edited since the model was saved (its SHA-256 differs); {again}")


@contextmanager
def _reading(path: Path) -> Iterator[None]:
    """Any failure to read a model file becomes one :class:`ModelError` naming it."""
    try:
        yield
    except ModelError:
        raise
    except Exception as exc:  # noqa: BLE001 - a damaged file can fail in any library's own way
        text = first_line(exc, 300)
        if text.startswith(str(path)):  # the message already names the file (one inside ``path``)
            raise ModelError(f"{text}; fit the model again with hmrec fit") from None
        raise ModelError(f"{path}: cannot be read ({first_line(exc)}); fit the model again with hmrec fit") from None


def _check_ranker_settings(features: list[str], settings: Settings, path: Path) -> None:
    """Refuse settings whose candidates cannot give the columns the trees read (a source they
    score on, or the MF features, taken out of ``settings.toml``): they would be scored as
    missing values, silently."""
    from hmrec.retrieval.pipeline import SOURCES

    wanted = sorted(s for s in SOURCES if f"{s}_score" in features and s not in settings.candidates.sources)
    if wanted:
        raise ModelError(
            f"{path}: the trees read the scores of source(s) {', '.join(wanted)}, which its sources leave out; "
            "fit the model again with the sources you want"
        )
    if any(f.startswith("m_") for f in features) and not settings.candidates.embedding:
        raise ModelError(f"{path}: the trees read the MF features, which embedding = false leaves out; fit it again")
    if any(f.startswith("u_") for f in features) and not settings.candidates.units:
        raise ModelError(f"{path}: the trees read the u_ features, which units = false leaves out; fit it again")


def _meta_fields(meta: Any, path: Path) -> tuple[str, date, list[str]]:
    """``model``, ``cutoff`` and ``fill`` of ``model.json``, each checked."""
    from hmrec.settings import MODEL_NAMES

    name = meta.get("model")
    if name not in MODEL_NAMES:
        raise ModelError(f"{path}: model must be one of {', '.join(MODEL_NAMES)}, got {cut(repr(name), 80)}")
    try:
        cutoff = date.fromisoformat(meta["cutoff"])
    except (KeyError, TypeError, ValueError):
        raise ModelError(
            f"{path}: cutoff must be a date (YYYY-MM-DD), got {cut(repr(meta.get('cutoff')), 80)}"
        ) from None
    fill = meta.get("fill")
    if not isinstance(fill, list) or not all(isinstance(a, str) for a in fill):
        raise ModelError(f"{path}: fill must be a list of article ids, got {cut(repr(fill), 80)}")
    return name, cutoff, fill


def _id_column(path: Path, column: str) -> pl.Series:
    """The ``column`` of ids in a model's parquet file, checked (text, no nulls)."""
    with _reading(path):
        frame = pl.read_parquet(path, glob=False)
    if column not in frame.columns or frame.schema[column] != pl.String or frame[column].null_count():
        raise ModelError(f"{path}: needs a {column} column of ids (text, no empty values); fit the model again")
    return frame[column]


def _series(customers: Any) -> pl.Series | None:
    """``customers`` as a polars Series of text: any sequence of ids (a list, a tuple, a numpy
    array, a pandas Series) is taken in its order."""
    if customers is None or isinstance(customers, pl.Series):
        return customers
    if isinstance(customers, str):
        raise TypeError("customers must be a sequence of customer ids, not one string")
    return pl.Series(Col.CUSTOMER_ID, [str(c) for c in customers], dtype=pl.String)


def _asked(dataset: Dataset, customers: pl.Series | None) -> pl.DataFrame:
    """``__pos, customer_id, customer``: the asked Kaggle ids in order, each with its prepared
    index; ids the data does not know get indices past its own (they have no rows)."""
    cmap = dataset.customer_map().collect()
    if customers is None:
        order = dataset.submission_customers().collect().join(cmap, on=Col.CUSTOMER, how="left", maintain_order="left")
        return order.with_row_index("__pos").select("__pos", Col.CUSTOMER_ID, Col.CUSTOMER)
    ids = pl.DataFrame({Col.CUSTOMER_ID: customers.cast(pl.String)}).unique(maintain_order=True)
    found = ids.join(cmap, on=Col.CUSTOMER_ID, how="left", maintain_order="left").with_row_index("__pos")
    unknown = pl.col(Col.CUSTOMER).is_null()
    start = cmap.height
    return found.with_columns(
        pl.when(unknown)
        .then(start + unknown.cast(pl.UInt32).cum_sum() - 1)
        .otherwise(pl.col(Col.CUSTOMER))
        .cast(pl.UInt32)
        .alias(Col.CUSTOMER)
    ).select("__pos", Col.CUSTOMER_ID, Col.CUSTOMER)


@dataclass
class _MFState:
    """What the MF model learned, by Kaggle id: its factor tables (rows in the order of the
    ``customers`` and ``articles`` ids of the data it was fitted on) and who had factors."""

    recommender: Any  # the fitted MFRecommender
    customers: pl.Series
    articles: pl.Series

    @classmethod
    def of(cls, recommender: Any, dataset: Dataset) -> _MFState:
        customers = dataset.customer_map().sort(Col.CUSTOMER).collect()[Col.CUSTOMER_ID]
        articles = dataset.article_map().sort(Col.ARTICLE).collect()[Col.ARTICLE_ID]
        return cls(recommender, customers, articles)

    def save(self, folder: Path) -> None:
        import torch

        rec = self.recommender
        state = {  # tensors and plain values only: read back with weights_only=True, never unpickled code
            "model": rec.model.state_dict(),
            "trained": torch.from_numpy(rec.trained.astype("int64")),  # prepared indices (INDEX_DTYPE)
            "config": rec.config.to_dict(),
            "candidate_weeks": int(rec.candidate_weeks),
            "filter": str(rec.filter),
            "boost": float(rec.boost),
        }
        torch.save(state, folder / MF_FILE)
        pl.DataFrame({Col.CUSTOMER_ID: self.customers}).write_parquet(folder / CUSTOMERS_FILE)

    @classmethod
    def load(cls, folder: Path, articles: pl.Series) -> _MFState:
        import torch

        from hmrec.recommenders.mf.config import MFConfig
        from hmrec.recommenders.mf.model import MatrixFactorization
        from hmrec.recommenders.mf.recommender import MFRecommender

        path = folder / MF_FILE
        with _reading(path):
            saved = torch.load(path, weights_only=True)  # tensors and plain values: a pickle of code is refused
            weights = saved["model"]
            n_customers, dim = weights["customer.weight"].shape
            model = MatrixFactorization(n_customers, weights["article.weight"].shape[0], dim)
            model.load_state_dict(weights)
            config = MFConfig.from_dict(saved["config"])
            rec = MFRecommender(
                config,
                candidate_weeks=int(saved["candidate_weeks"]),
                filter=str(saved["filter"]),
                boost=float(saved.get("boost", 0.0)),  # a model saved before boosts has none
            )
            rec.model, rec.trained = model, pl.Series(saved["trained"].numpy()).cast(INDEX_DTYPE).to_numpy()
        customers = _id_column(folder / CUSTOMERS_FILE, Col.CUSTOMER_ID)
        if customers.len() < n_customers:
            raise ModelError(
                f"{folder / CUSTOMERS_FILE}: {customers.len():,} customers for {n_customers:,} factor rows"
            )
        return cls(rec, customers, articles)

    def bind(self, dataset: Dataset, fill: list[int]) -> Any:
        """A copy of the fitted recommender re-indexed to ``dataset``'s ids, with the fill list."""
        import numpy as np
        import torch

        from hmrec.recommenders.mf.model import MatrixFactorization

        old = self.recommender
        rec = replace(old, popular=fill, on_epoch=None, checkpoint_dir=None)
        cmap = dataset.customer_map().sort(Col.CUSTOMER).collect()[Col.CUSTOMER_ID]
        amap = dataset.article_map().sort(Col.ARTICLE).collect()[Col.ARTICLE_ID]
        if cmap.equals(self.customers) and amap.equals(self.articles):
            return rec
        c_new, c_old = _positions(cmap, self.customers)
        a_new, a_old = _positions(amap, self.articles)
        model = MatrixFactorization(cmap.len(), amap.len(), old.model.customer.embedding_dim)
        with torch.no_grad():
            for table, new, was in (("customer", c_new, c_old), ("article", a_new, a_old)):
                rows = was < getattr(old.model, table).num_embeddings  # ids past the fitted table have no factors
                to, fro = torch.as_tensor(np.array(new[rows])), torch.as_tensor(np.array(was[rows]))
                for name in (table, f"{table}_bias"):
                    target = getattr(model, name).weight
                    target.zero_()
                    target[to] = getattr(old.model, name).weight[fro]
        index = dict(zip(c_old.tolist(), c_new.tolist(), strict=True))
        trained = np.array(sorted(index[c] for c in old.trained.tolist() if c in index), dtype=old.trained.dtype)
        rec.model, rec.trained = model, trained
        return rec


def _positions(new: pl.Series, old: pl.Series) -> tuple[Any, Any]:
    """Index arrays ``(in new, in old)`` of the ids both hold."""
    left = pl.DataFrame({"id": new}).with_row_index("__new")
    right = pl.DataFrame({"id": old}).with_row_index("__old")
    both = left.join(right, on="id", how="inner")
    return both["__new"].cast(pl.Int64).to_numpy(), both["__old"].cast(pl.Int64).to_numpy()
