"""The shapes of the API's answers (pydantic models: the OpenAPI page at /docs shows them)."""

from __future__ import annotations

from pydantic import BaseModel


class Article(BaseModel):
    """An article of the catalogue as the page shows it (``colour_hex``: a swatch of its colour)."""

    article_id: str
    name: str | None
    product_type: str | None
    product_group: str | None
    colour: str | None
    colour_hex: str
    department: str | None
    description: str | None


class Recommendation(BaseModel):
    """One recommended article: its rank, score (null for the fill), the sources that proposed it, and whether it
    was bought in the holdout week (null for a submission)."""

    rank: int
    article: Article
    score: float | None
    sources: list[str]
    bought: bool | None  # None when the week is not known (a submission)


class Reason(BaseModel):
    """A feature that moved a ranked article's score, and by how much (LightGBM's contribution)."""

    feature: str
    contribution: float


class Explained(Recommendation):
    """A recommendation with the three features that moved its score most (null for the fill)."""

    explain: list[Reason] | None  # None: the fill list, which the ranker did not score


class Recommendations(BaseModel):
    """A customer's recommendations, best first (``known`` false: the fill list)."""

    customer_id: str
    known: bool  # False: an unknown customer, given the popular list
    model: str
    cutoff: str
    recommendations: list[Recommendation]


class Similar(BaseModel):
    """An article like the asked one, with the signals that found it."""

    rank: int
    article: Article
    sources: list[str]  # bought_together, same_product, embedding


class SimilarArticles(BaseModel):
    """The asked article and the articles like it, most similar first."""

    article: Article
    similar: list[Similar]


class Pick(BaseModel):
    """A customer worth a look on the explorer page, and why."""

    customer_id: str
    why: str


class Purchase(BaseModel):
    """One purchase before the cutoff."""

    date: str
    article: Article
    price: float
    channel: str


class History(BaseModel):
    """A customer's latest purchases before the cutoff, newest first, and what they bought in the holdout week (when
    known)."""

    customer_id: str
    known: bool
    purchases: list[Purchase]
    bought_in_holdout: list[Article] | None


class Health(BaseModel):
    """What the server holds: the model, the cutoff, how many customers and articles, whether the holdout week is
    known."""

    status: str
    model: str
    cutoff: str
    customers: int
    articles: int
    holdout_known: bool
