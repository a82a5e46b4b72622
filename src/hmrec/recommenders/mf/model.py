"""The matrix factorisation model: embeddings and biases, nothing about training."""

from __future__ import annotations

import torch
from torch import nn


class MatrixFactorization(nn.Module):
    """``score(u, i) = <p_u, q_i> + b_u + b_i``.

    Embeddings are sparse so that each step touches only the rows of its batch.
    """

    def __init__(self, n_customers: int, n_articles: int, dim: int = 64, init_std: float = 0.05) -> None:
        super().__init__()
        self.customer = nn.Embedding(n_customers, dim, sparse=True)
        self.article = nn.Embedding(n_articles, dim, sparse=True)
        self.customer_bias = nn.Embedding(n_customers, 1, sparse=True)
        self.article_bias = nn.Embedding(n_articles, 1, sparse=True)
        for table in (self.customer, self.article):
            nn.init.normal_(table.weight, std=init_std)
        for table in (self.customer_bias, self.article_bias):
            nn.init.zeros_(table.weight)

    @torch.no_grad()
    def grow(self, n_customers: int) -> None:
        """Room for customer indices below ``n_customers``; new rows start at zero."""
        old = self.customer.num_embeddings
        if n_customers <= old:
            return
        for name in ("customer", "customer_bias"):
            table = getattr(self, name)
            bigger = nn.Embedding(n_customers, table.embedding_dim, sparse=True)
            nn.init.zeros_(bigger.weight)
            bigger.weight[:old] = table.weight
            setattr(self, name, bigger)

    def forward(self, customers: torch.Tensor, articles: torch.Tensor) -> torch.Tensor:
        """Scores of aligned ``(customers[j], articles[j])`` pairs."""
        dot = (self.customer(customers) * self.article(articles)).sum(-1)
        return dot + self.customer_bias(customers).squeeze(-1) + self.article_bias(articles).squeeze(-1)

    @torch.no_grad()
    def ranking_scores(self, customers: torch.Tensor, articles: torch.Tensor) -> torch.Tensor:
        """Like :meth:`score_matrix` without the customer bias, which orders nothing.

        One fused ``addmm``: the cheapest way to rank many articles for a chunk of customers.
        """
        return torch.addmm(self.article_bias(articles).T, self.customer(customers), self.article(articles).T)

    @torch.no_grad()
    def score_matrix(self, customers: torch.Tensor, articles: torch.Tensor) -> torch.Tensor:
        """``len(customers) x len(articles)`` scores; callers bound the size by chunking."""
        left = self.customer(customers)
        right = self.article(articles)
        return left @ right.T + self.customer_bias(customers) + self.article_bias(articles).T
