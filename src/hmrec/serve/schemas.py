"""The shapes of the API's answers (pydantic models: the OpenAPI page at /docs shows them)."""

from __future__ import annotations

from pydantic import BaseModel


class Article(BaseModel):
    article_id: str
    name: str | None
    product_type: str | None
    product_group: str | None
    colour: str | None
    colour_hex: str
    department: str | None
    description: str | None


class Recommendation(BaseModel):
    rank: int
    article: Article
    score: float | None
    sources: list[str]
    bought: bool | None  # None when the week is not known (a submission)


class Reason(BaseModel):
    feature: str
    contribution: float


class Explained(Recommendation):
    explain: list[Reason] | None  # None: the fill list, which the ranker did not score


class Recommendations(BaseModel):
    customer_id: str
    known: bool  # False: an unknown customer, given the popular list
    model: str
    cutoff: str
    recommendations: list[Recommendation]


class Similar(BaseModel):
    rank: int
    article: Article
    sources: list[str]  # bought_together, same_product, embedding


class SimilarArticles(BaseModel):
    article: Article
    similar: list[Similar]


class Pick(BaseModel):
    customer_id: str
    why: str


class Purchase(BaseModel):
    date: str
    article: Article
    price: float
    channel: str


class History(BaseModel):
    customer_id: str
    known: bool
    purchases: list[Purchase]
    bought_in_holdout: list[Article] | None


class Health(BaseModel):
    status: str
    model: str
    cutoff: str
    customers: int
    articles: int
    holdout_known: bool
