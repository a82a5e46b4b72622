"""The CSV readers against random damage: either the data is prepared, or one bounded message
(a DataError) says why and nothing is left behind. Never another exception, never a hang."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hmrec.data import ingest
from hmrec.data.validate import DataError
from tests.conftest import write_kaggle

ROWS = [(f"2020-09-{d:02d}", d % 5, d % 7, 0.01 * (1 + d % 3), 1 + d % 2) for d in range(1, 25)]
FILES = ["transactions_train.csv", "customers.csv", "articles.csv", "sample_submission.csv"]
MESSAGE_LIMIT = 4_000


def _template() -> Path:
    folder = Path(tempfile.mkdtemp(prefix="hmrec-fuzz-")) / "good"
    return write_kaggle(folder, ROWS, submission=[0, 1, 2, 3, 4])


TEMPLATE = _template()

damage = st.one_of(
    st.tuples(st.just("insert"), st.binary(min_size=1, max_size=64), st.floats(0, 1)),
    st.tuples(st.just("truncate"), st.just(b""), st.floats(0, 1)),
    st.tuples(st.just("encode"), st.sampled_from([b"utf-16", b"latin-1", b"utf-32"]), st.floats(0, 1)),
    st.tuples(st.just("huge"), st.sampled_from([b"x", b"1", b"\xe9", b","]), st.integers(10_000, 2_000_000)),
)


def damaged(raw: bytes, kind: str, payload: bytes, where: float) -> bytes:
    at = int(where * len(raw)) if isinstance(where, float) else 0
    if kind == "insert":
        return raw[:at] + payload + raw[at:]
    if kind == "truncate":
        return raw[:at]
    if kind == "encode":
        return (raw.decode() + "é").encode(payload.decode(), errors="replace")
    # a huge field in the first data line
    header, first, rest = raw.split(b"\n", 2)
    return b"\n".join([header, payload * int(where) + first, rest])


@settings(max_examples=60, deadline=20_000, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from(FILES), change=damage)
def test_damaged_input_is_prepared_or_refused_in_one_message(name: str, change: tuple[str, bytes, float]) -> None:
    folder = Path(tempfile.mkdtemp(prefix="hmrec-fuzz-")) / "shop"
    try:
        shutil.copytree(TEMPLATE, folder)
        path = folder / name
        path.write_bytes(damaged(path.read_bytes(), *change))
        try:
            result = ingest.prepare(folder)
        except DataError as exc:
            message = str(exc)
            assert message and len(message) < MESSAGE_LIMIT, len(message)
            assert not (folder / "prepared").exists()  # nothing half-written
        else:
            assert (result.root / "transactions.parquet").is_file()
        assert [p.name for p in folder.iterdir() if p.name.startswith(".")] == []
    finally:
        shutil.rmtree(folder.parent, ignore_errors=True)
