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

import json
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import polars as pl

from hmrec.data.atomic import locked, staged
from hmrec.data.dataset import Dataset
from hmrec.data.submission import write_submission
from hmrec.engine import Engine, LocalEngine
from hmrec.fitting import everything, scoring_cutoff
from hmrec.recommenders.base import Recommender, source_lists
from hmrec.recommenders.saving import (
    ARTICLES_FILE,
    MODEL_FILE,
    SETTINGS_FILE,
    ModelError,
    check_manifest,
    id_column,
    reading,
    write_manifest,
)
from hmrec.registry import MODEL_NAMES, model_class
from hmrec.schema import INDEX_DTYPE, Col, K
from hmrec.settings import Settings
from hmrec.text import cut
from hmrec.version import __version__

MODEL_FORMAT = 2
"""The layout of a model folder; a folder of another format is refused (fit it again)."""

__all__ = ["MODEL_FORMAT", "Model", "ModelError", "check_manifest", "write_manifest"]


def _articles(dataset: Dataset, values: list, to_ids: bool) -> list:
    """Article indices of ``dataset`` as Kaggle ids (``to_ids``), or ids as its indices, in order."""
    if to_ids:
        return dataset.ids.to_kaggle(pl.DataFrame({Col.ARTICLE: pl.Series(values, dtype=INDEX_DTYPE)}))[
            Col.ARTICLE_ID
        ].to_list()
    return dataset.ids.to_index(pl.Series(Col.ARTICLE_ID, values, dtype=pl.String)).to_list()


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
    """What was learned: a ``FittedRanker`` (ranker), an MF ``MFState``, or None (rules)."""
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
        articles = dataset.ids.ids(Col.ARTICLE_ID)
        state = recommender.learned(dataset)
        tuning = recommender.tuning_meta()
        fill = _articles(dataset, recommender.fill, to_ids=True)
        model = cls(name, settings, cutoff, fill, articles, state, tuning=tuning)
        model.bound = ((dataset.root, cutoff), recommender)
        return model

    @property
    def kind(self) -> Any:
        """The model's class (``registry.model_class``): what it learned is saved, loaded and bound by it."""
        return model_class(self.name)

    # scoring

    def recommender_for(self, dataset: Dataset) -> Recommender:
        """The recommender that scores ``dataset``: fitted state, that data's rows and ids."""
        key = (dataset.root, scoring_cutoff(dataset))  # the same folder prepared again is other data
        if self.bound is not None and self.bound[0] == key:
            recommender = self.bound[1]
            recommender.use(self.engine, self.on_step)  # this call's, not the fit's
            return recommender
        recommender = self._bind(dataset)
        self.bound = (key, recommender)
        return recommender

    def _bind(self, dataset: Dataset) -> Recommender:
        self.check_catalogue(dataset)
        fill = _articles(dataset, self.fill, to_ids=False)
        return self.kind.bind(self.state, dataset, fill, everything(dataset), self.settings, self.engine, self.on_step)

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
        known = dataset.ids.ids(Col.ARTICLE_ID)
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
            if not self.kind.explains:
                raise ValueError(f"explain=True needs the ranker: the {self.name} model has no features to explain")
            more["explain"] = True
        if not kaggle_ids:
            who = dataset.submission_customers().collect()[Col.CUSTOMER] if customers is None else customers
            return recommender.recommend(who.cast(INDEX_DTYPE), k, details, **more)
        asked = _asked(dataset, customers)
        recs = recommender.recommend(asked[Col.CUSTOMER], k, details, **more)
        out = dataset.ids.to_kaggle(
            asked.join(recs, on=Col.CUSTOMER, how="left").sort("__pos", Col.RANK).drop(Col.CUSTOMER)
        )
        extra = [Col.SCORE, source_lists()] if details or explain else []
        return out.select(Col.CUSTOMER_ID, Col.ARTICLE_ID, Col.RANK, *extra, *(["explain"] if explain else []))

    def submission_recommendations(self, dataset: Dataset, explain: bool = False) -> pl.DataFrame:
        """What the submission of ``dataset`` is made of: ``k`` articles for every customer of it,
        in prepared indices, with score and sources (and with ``explain``, the ranker's reasons:
        about 40 us a recommendation, 11 minutes for 1.37M customers)."""
        return self.recommend(dataset, details=True, kaggle_ids=False, explain=explain)

    def submission_parts(self, dataset: Dataset, explain: bool = False) -> Iterator[pl.DataFrame]:
        """``submission_recommendations``' rows as frames of disjoint sets of customers, handed
        over one at a time (the ranker: one per part of its engine's work), so that a large
        shop's lists are never all held at once; ``write_submission`` takes them so."""
        if explain and not self.kind.explains:
            raise ValueError(f"explain=True needs the ranker: the {self.name} model has no features to explain")
        who = dataset.submission_customers().collect()[Col.CUSTOMER].cast(INDEX_DTYPE)
        more = {"explain": True} if explain else {}
        yield from self.recommender_for(dataset).recommend_parts(who, K, True, **more)

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
        asked = pl.Series(Col.ARTICLE_ID, [str(a).zfill(10) for a in article_ids]).unique(maintain_order=True)
        found = pl.DataFrame({Col.ARTICLE_ID: asked, Col.ARTICLE: dataset.ids.to_index(asked)})
        unknown = found.filter(pl.col(Col.ARTICLE).is_null())[Col.ARTICLE_ID].to_list()
        if unknown:
            raise ValueError(f"article id(s) not in the catalogue: {', '.join(cut(a) for a in unknown[:5])}")
        factors = self.article_factors(dataset)
        similar = similar_articles(everything(dataset), found[Col.ARTICLE], k, factors)
        return (
            dataset.ids.to_kaggle(
                found.with_row_index("__pos").select("__pos", Col.ARTICLE).join(similar, on=Col.ARTICLE),
                articles={OTHER: "similar_article_id"},
            )
            .sort("__pos", "rank")
            .select(Col.ARTICLE_ID, "similar_article_id", "rank", Col.SOURCES)
        )

    def article_factors(self, dataset: Dataset) -> Any:
        """The model's article factors bound to ``dataset`` (a numpy matrix, one row per prepared
        article index; the MF model's), or None for a model without factors."""
        if not self.kind.has_factors:  # nothing to bind for them
            return None
        return self.recommender_for(dataset).article_factors()

    def write_submission(
        self,
        dataset: Dataset,
        path: Path | str,
        customers: Any = None,
        recommendations: pl.DataFrame | Iterable[pl.DataFrame] | None = None,
    ) -> pl.DataFrame | None:
        """Write the Kaggle submission for ``dataset`` to ``path`` (written whole or not at all):
        ``customer_id,prediction`` for every customer of the submission, in its order, or for
        ``customers`` (Kaggle ids) in theirs. Returns the recommendations it was made of (for the
        submission: prepared indices, with score and sources, or ``recommendations`` when given,
        from ``submission_recommendations``; for ``customers``: Kaggle ids). ``recommendations``
        may be frames of disjoint customers (``submission_parts``), read one at a time: then
        nothing is returned."""
        if customers is None:
            recs = self.submission_recommendations(dataset) if recommendations is None else recommendations
            write_submission(dataset, recs, Path(path))
            return recs if isinstance(recs, pl.DataFrame) else None
        asked = _asked(dataset, _series(customers))
        recs = self.recommender_for(dataset).recommend(asked[Col.CUSTOMER], K)
        write_submission(dataset, recs, Path(path), order=asked)
        return dataset.ids.to_kaggle(
            asked.join(recs, on=Col.CUSTOMER).sort("__pos", Col.RANK).drop(Col.CUSTOMER)
        ).select(Col.CUSTOMER_ID, Col.ARTICLE_ID, Col.RANK)

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
            if self.state is not None:
                self.kind.save_learned(self.state, tmp, self.cutoff)
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
        with reading(folder / SETTINGS_FILE):
            settings = Settings.load(folder / SETTINGS_FILE)
        articles = id_column(folder / ARTICLES_FILE, Col.ARTICLE_ID)
        state = model_class(name).load_learned(folder, settings, articles)
        tuning = meta.get("tuning")
        return cls(
            name, settings, cutoff, fill, articles, state, version, tuning=tuning if isinstance(tuning, dict) else None
        )


def _meta_fields(meta: Any, path: Path) -> tuple[str, date, list[str]]:
    """``model``, ``cutoff`` and ``fill`` of ``model.json``, each checked."""
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


def _series(customers: Any) -> pl.Series | None:
    """``customers`` as a polars Series of text: any sequence of ids (a list, a tuple, a numpy
    array, a pandas Series) is taken in its order."""
    if customers is None or isinstance(customers, pl.Series):
        return customers
    if isinstance(customers, str):
        raise TypeError("customers must be a sequence of customer ids, not one string")
    return pl.Series(Col.CUSTOMER_ID, [str(c) for c in customers], dtype=pl.String)


def _asked(dataset: Dataset, customers: pl.Series | None) -> pl.DataFrame:
    """``__pos, customer_id, customer``: the asked Kaggle ids in order (each once; default: the
    submission's customers), each with its prepared index; ids the data does not know get
    indices past its own (they have no rows: the fill list)."""
    if customers is None:
        order = dataset.ids.to_kaggle(dataset.submission_customers(), keep=True).collect()
        return order.with_row_index("__pos").select("__pos", Col.CUSTOMER_ID, Col.CUSTOMER)
    ids = customers.cast(pl.String).alias(Col.CUSTOMER_ID).unique(maintain_order=True)
    found = pl.DataFrame({Col.CUSTOMER_ID: ids, Col.CUSTOMER: dataset.ids.to_index(ids, unknown="extend")})
    return found.with_row_index("__pos")
