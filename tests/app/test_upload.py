"""The upload picker's kernel side: pieces written whole, the limit said in one line, folders removed.

The browser side (size checked before sending, pieces over a real websocket) is
tests/browser/test_dashboard_inputs.py.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from project_paths import ROOT

from explorer.app import upload
from explorer.app.upload import CHUNK_BYTES, UPLOAD_LIMIT_BYTES, FilePicker
from explorer.errors import DataError


def send(picker: FilePicker, files: dict[str, bytes], *, chunk: int = CHUNK_BYTES, upload_id: int = 1) -> None:
    """What the page's script sends: the announcement, the pieces in order, the end."""
    picker._message(picker, {"kind": "start", "id": upload_id,
                             "files": [{"name": n, "size": len(b)} for n, b in files.items()]}, [])
    for index, data in enumerate(files.values()):
        for offset in range(0, len(data), chunk):
            picker._message(picker, {"kind": "chunk", "id": upload_id, "file": index, "offset": offset},
                            [memoryview(data[offset:offset + chunk])])
    picker._message(picker, {"kind": "end", "id": upload_id}, [])


def outcomes(picker: FilePicker) -> list:
    got = []
    picker.on_upload(got.append)
    return got


def test_files_arrive_whole_in_pieces_in_a_fresh_folder():
    picker = FilePicker(multiple=True)
    got = outcomes(picker)
    first = bytes(range(256)) * 40_000  # 10.2 MB: three pieces
    send(picker, {"a.csv": first, "../b.csv": b"x,y\n1,2\n"})
    paths = got[0]()
    assert [p.name for p in paths] == ["a.csv", "b.csv"]  # a name never leaves the folder
    assert paths[0].read_bytes() == first and paths[1].read_bytes() == b"x,y\n1,2\n"
    assert paths[0].parent.name.startswith(upload.FOLDER_PREFIX)
    assert picker.status == "received a.csv, b.csv (10.2 MB)"


def test_names_stay_in_the_upload_folder_and_apart():
    picker = FilePicker(multiple=True)
    got = outcomes(picker)
    send(picker, {"..": b"1", "a.csv": b"2", "x/a.csv": b"3", "..\\..\\b.csv": b"4"})
    paths = got[0]()
    assert [p.name for p in paths] == ["file0", "a.csv", "a-2.csv", "b.csv"]
    assert all(p.parent == paths[0].parent for p in paths)
    assert [p.read_bytes() for p in paths] == [b"1", b"2", b"3", b"4"]


def test_a_file_over_the_limit_is_refused_in_one_line_naming_it_and_the_limit():
    picker = FilePicker()
    got = outcomes(picker)
    # the page announces the sizes and sends nothing more (it checks File.size itself)
    picker._message(picker, {"kind": "start", "id": 1, "files": [{"name": "big.csv", "size": UPLOAD_LIMIT_BYTES + 1}]}, [])
    with pytest.raises(DataError) as err:
        got[0]()
    message = str(err.value)
    assert "\n" not in message
    assert "big.csv" in message and "50.0 MB" in message and "give its path" in message


def test_the_kernel_counts_what_arrives_not_what_the_page_announced(monkeypatch):
    monkeypatch.setattr(upload, "UPLOAD_LIMIT_BYTES", 1000)
    picker = FilePicker()
    got = outcomes(picker)
    picker._message(picker, {"kind": "start", "id": 1, "files": [{"name": "liar.csv", "size": 10}]}, [])
    folder = picker._receiving[1].folder
    picker._message(picker, {"kind": "chunk", "id": 1, "file": 0, "offset": 0}, [b"x" * 2000])
    with pytest.raises(DataError, match="liar.csv: 0.0 MB is more than the upload limit"):
        got[0]()
    assert not folder.exists()  # the part that arrived is removed at once
    picker._message(picker, {"kind": "end", "id": 1}, [])  # late pieces of a refused upload are ignored
    assert len(got) == 1


def test_an_incomplete_or_disordered_upload_is_an_error_not_a_truncated_file():
    picker = FilePicker()
    got = outcomes(picker)
    picker._message(picker, {"kind": "start", "id": 1, "files": [{"name": "t.csv", "size": 10}]}, [])
    picker._message(picker, {"kind": "chunk", "id": 1, "file": 0, "offset": 0}, [b"12345"])
    picker._message(picker, {"kind": "end", "id": 1}, [])
    with pytest.raises(DataError, match="t.csv: 5 of 10 bytes arrived"):
        got[0]()
    picker._message(picker, {"kind": "start", "id": 2, "files": [{"name": "t.csv", "size": 10}]}, [])
    picker._message(picker, {"kind": "chunk", "id": 2, "file": 0, "offset": 5}, [b"67890"])
    with pytest.raises(DataError, match="out of order"):
        got[1]()


def test_upload_folders_are_removed_when_the_kernel_ends(tmp_path):
    script = (
        "import tempfile, sys\n"
        f"tempfile.tempdir = {str(tmp_path)!r}\n"
        "from explorer.app.upload import FilePicker\n"
        "p = FilePicker()\n"
        "p._message(p, {'kind': 'start', 'id': 1, 'files': [{'name': 'a.csv', 'size': 3}]}, [])\n"
        "p._message(p, {'kind': 'chunk', 'id': 1, 'file': 0, 'offset': 0}, [b'abc'])\n"
        "p._message(p, {'kind': 'end', 'id': 1}, [])\n"
        "print(p._receiving or 'done')\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "done" in result.stdout
    assert list(Path(tmp_path).iterdir()) == []


def test_an_uploaded_cohort_and_trial_are_opened_from_an_allowed_folder(tmp_path):
    from explorer.app.scenario import DataSource, Scenario
    from explorer.app.state import ExplorerState
    from explorer.app.views import DataPanel, TrialPicker
    from explorer.cohort.synthetic import generate_cohort, write_cohort

    state = ExplorerState(Scenario(trial="NCT01142050", data=DataSource("synthetic", "t2d", 200, 0)))
    panel, picker = DataPanel(state), TrialPicker(state)
    write_cohort(generate_cohort("t2d", 60, seed=4, cgm_readings=0), tmp_path / "cohort", format="csv")
    send(panel._upload, {p.name: p.read_bytes() for p in sorted((tmp_path / "cohort").iterdir())})
    assert state.error == ""
    assert state.load_report.kind == "canonical" and len(state.screening.features) == 60
    assert Path(state.scenario.data.path).name.startswith(upload.FOLDER_PREFIX)

    text = (ROOT / "explorer" / "trials" / "NCT01142050.yaml").read_text()
    send(picker._upload, {"mine.yaml": text.replace("id: NCT01142050", "id: UPLOADED-1", 1).encode()}, upload_id=2)
    assert state.error == "" and state.trial.id == "UPLOADED-1"

    picker._upload._message(picker._upload, {"kind": "start", "id": 3, "files": [{"name": "huge.yaml", "size": 10**9}]}, [])
    assert "huge.yaml: 1000.0 MB is more than the upload limit" in state.error
    assert state.trial.id == "UPLOADED-1"  # the previous view stays
