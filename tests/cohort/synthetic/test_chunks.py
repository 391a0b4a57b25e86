"""explorer.cohort.synthetic.chunks: the chunked Parquet writer (pieces, workers, progress, errors)."""

from functools import partial

import pyarrow.parquet as pq
import pytest
from chunk_pieces import drawn_piece, inconsistent_piece

from explorer.cohort.synthetic.chunks import idle_workers, write_parquet_pieces
from explorer.errors import DataError, DefinitionError


def _read(folder):
    return {name: pq.read_table(folder / name) for name in sorted(p.name for p in folder.glob("*.parquet"))}


def test_files_do_not_depend_on_the_worker_count(tmp_path):
    """Each piece draws from its own seeded stream and the pieces are written in order, so two worker
    processes give the very files one process gives (a writer that wrote pieces as they finished, or
    workers that shared one generator, would not)."""
    pieces = partial(drawn_piece, 7)
    one = write_parquet_pieces(tmp_path / "one", 2_500, pieces, piece=700, workers=1, progress=False)
    two = write_parquet_pieces(tmp_path / "two", 2_500, pieces, piece=700, workers=2, progress=False)
    assert one == two and set(one) == {"features.parquet", "events.parquet"}
    a, b = _read(tmp_path / "one"), _read(tmp_path / "two")
    assert all(a[name].equals(b[name]) for name in a)
    features = a["features.parquet"]
    assert features.num_rows == 2_500
    assert features["subject_id"].to_pylist()[::700] == ["T1D-0000000", "T1D-0000700", "T1D-0001400", "T1D-0002100"]
    assert features["hba1c"].null_count > 0  # NaN written as null


def test_same_seed_same_files_and_another_seed_other_values(tmp_path):
    write_parquet_pieces(tmp_path / "a", 1_000, partial(drawn_piece, 7), piece=400, workers=1, progress=False)
    write_parquet_pieces(tmp_path / "b", 1_000, partial(drawn_piece, 7), piece=400, workers=1, progress=False)
    write_parquet_pieces(tmp_path / "c", 1_000, partial(drawn_piece, 8), piece=400, workers=1, progress=False)
    a, b, c = (_read(tmp_path / x)["features.parquet"] for x in "abc")
    assert a.equals(b)
    assert a["hba1c"].to_pylist() != c["hba1c"].to_pylist()


def test_progress_is_logged_per_piece(tmp_path):
    lines = []
    write_parquet_pieces(tmp_path, 1_000, partial(drawn_piece, 1), piece=400, workers=1, progress=False,
                         log=lines.append)
    assert [line.split(": ")[1].split(" subjects")[0] for line in lines] == ["400 of 1,000", "800 of 1,000",
                                                                         "1,000 of 1,000"]


def test_a_piece_with_other_columns_is_refused_by_name(tmp_path):
    with pytest.raises(DataError, match=r"piece 1 gave features the columns \['subject_id', 'hbA1c'\]"):
        write_parquet_pieces(tmp_path, 200, inconsistent_piece, piece=100, workers=1, progress=False)


@pytest.mark.parametrize("piece", [0, -5, 1.5, True])
def test_piece_size_must_be_a_positive_integer(tmp_path, piece):
    with pytest.raises(DefinitionError, match="piece must be a positive number of subjects"):
        write_parquet_pieces(tmp_path, 10, inconsistent_piece, piece=piece, progress=False)


@pytest.mark.parametrize(("cores", "load", "workers"), [(2, 0.1, 2), (2, 0.8, 1), (2, 16.0, 1), (8, 0.0, 2), (1, 0.0, 1)])
def test_workers_follow_the_idle_cores(monkeypatch, cores, load, workers):
    import os

    monkeypatch.setattr(os, "cpu_count", lambda: cores)
    monkeypatch.setattr(os, "getloadavg", lambda: (load, load, load))
    assert idle_workers() == workers


def _reversed_piece(index: int, start: int, size: int) -> dict:
    """Rows in reverse subject order, two rows a subject (their order within a subject must survive)."""
    import numpy as np
    import pyarrow as pa

    from explorer.cohort.synthetic.chunks import subject_ids

    ids = subject_ids("t1d", start, start + size)
    order = np.repeat(np.arange(size)[::-1], 2)
    return {"rows": pa.table({"subject_id": ids.take(pa.array(order)),
                              "k": pa.array(np.tile([1, 0], size))})}


def test_sorted_pieces_make_sorted_files_whose_row_groups_cover_disjoint_ids(tmp_path):
    write_parquet_pieces(tmp_path, 1_000, _reversed_piece, piece=300, workers=1, progress=False, row_group_size=100,
                         sort_by="subject_id")
    table = pq.read_table(tmp_path / "rows.parquet")
    ids = table["subject_id"].to_pylist()
    assert ids == sorted(ids) and len(set(ids)) == 1_000
    assert table["k"].to_pylist() == [1, 0] * 1_000  # stable: a subject's rows keep their order
    meta = pq.ParquetFile(tmp_path / "rows.parquet").metadata
    bounds = [(meta.row_group(g).column(0).statistics.min, meta.row_group(g).column(0).statistics.max)
              for g in range(meta.num_row_groups)]
    assert all(high < low for (_, high), (low, _) in zip(bounds, bounds[1:], strict=False))
