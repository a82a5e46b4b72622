"""The compiled forest scores as LightGBM, to the bit, or is not used."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import polars as pl
import pytest

from hmrec.ranking import compiled


def booster(objective: str, rounds: int = 25) -> tuple[lgb.Booster, np.ndarray]:
    rng = np.random.default_rng(7)
    x = rng.normal(size=(3000, 9)).astype(np.float32)
    x[rng.random(x.shape) < 0.2] = np.nan  # missing values take each split's default side
    y = (np.nan_to_num(x[:, 0]) + np.nan_to_num(x[:, 3]) * 0.5 + rng.normal(size=3000) > 0.8).astype(int)
    params = {"objective": objective, "num_leaves": 15, "min_data_in_leaf": 5, "verbose": -1, "seed": 1}
    data = lgb.Dataset(x, label=y, group=[30] * 100) if objective == "lambdarank" else lgb.Dataset(x, label=y)
    return lgb.train(params, data, num_boost_round=rounds), x


def test_compiled_scores_equal_lightgbm_to_the_bit(monkeypatch: pytest.MonkeyPatch) -> None:
    model, x = booster("lambdarank", rounds=80)  # more trees than lleaves blocks by default (34)
    forest = compiled.compile_forest(model)
    assert forest is not None
    monkeypatch.setattr(compiled, "BLOCK_ROWS", 700)  # blocks that do not divide the rows
    monkeypatch.setattr(compiled, "TILE_ROWS", 64)  # tiles that do not divide a block
    rows = np.asfortranarray(np.vstack([x, x[::-1] * 1.5]))  # F order, as polars gives it
    expected = model.predict(rows, num_threads=1)
    assert np.unique(expected).size > 100
    np.testing.assert_array_equal(forest.predict(rows), expected)
    frame = pl.DataFrame(rows, schema=[f"f{i}" for i in range(9)], orient="row").fill_nan(None)  # nulls as missing
    np.testing.assert_array_equal(forest.predict(frame), expected)
    reloaded = lgb.Booster(model_str=model.model_to_string())  # a saved model: objective from its text
    assert compiled.objective(reloaded) == "lambdarank"
    np.testing.assert_array_equal(compiled.compile_forest(reloaded).predict(rows), expected)


def test_a_matrix_of_other_columns_is_refused() -> None:
    model, x = booster("lambdarank", rounds=3)
    forest = compiled.compile_forest(model)
    assert forest is not None
    with pytest.raises(ValueError, match="reads 9 features"):
        forest.predict(x[:, :8])


def test_objectives_with_a_transform_and_a_missing_compiler_fall_back(monkeypatch: pytest.MonkeyPatch) -> None:
    model, _ = booster("binary", rounds=3)
    assert compiled.objective(model) == "binary"
    assert compiled.compile_forest(model) is None  # a sigmoid's last bit could differ: LightGBM scores it
    ranker, _ = booster("lambdarank", rounds=3)
    monkeypatch.setitem(__import__("sys").modules, "lleaves", None)  # as if it were not installed
    assert compiled.compile_forest(ranker) is None
