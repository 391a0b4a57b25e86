"""explorer.app.voila_preload: the files a Voilà page will need, read from what is installed."""

from __future__ import annotations

import re
import sys
from pathlib import Path

from voila.configuration import VoilaConfiguration

from explorer.app.voila_preload import extension_files, preload_addresses, voila_chunks

LABEXTENSIONS = Path(sys.prefix) / "share" / "jupyter" / "labextensions"


def test_voilas_start_up_chunks_are_those_voila_js_loads_and_that_exist(tmp_path):
    (tmp_path / "voila.js").write_text('Promise.all([r.e(12),r.e(7),x.e(12),x.e(99)]).then(r.bind(r,12));f.e(3)')
    for chunk in (12, 7, 3, 5):
        (tmp_path / f"{chunk}.voila.js").write_text("")
    # 99 has no file (its modules live in another file); 5 exists but voila.js never asks for it
    assert voila_chunks([str(tmp_path / "elsewhere"), str(tmp_path)]) == ["12.voila.js", "7.voila.js", "3.voila.js"]
    assert voila_chunks([str(tmp_path / "elsewhere")]) == []


def test_each_loaded_extension_gives_its_remote_entry_and_chunks_at_the_address_it_asks_for():
    files = extension_files(VoilaConfiguration(extension_denylist=["jupyterlab-plotly"]))
    manager = "@jupyter-widgets/jupyterlab-manager"
    entry = next((LABEXTENSIONS / manager / "static").glob("remoteEntry.*.js"))
    assert f"{manager}/static/{entry.name}" in files
    chunks = [f for f in files if f.startswith(f"{manager}/static/") and "remoteEntry" not in f]
    # jupyterlab's builder asks for a chunk as N.HASH.js?v=HASH; a preload at another address is fetched twice
    assert chunks and all(re.fullmatch(rf"{re.escape(manager)}/static/\d+\.([0-9a-f]+)\.js\?v=\1", f) for f in chunks)
    assert len(chunks) == len(list((LABEXTENSIONS / manager / "static").glob("[0-9]*.*.js")))
    anywidget = [f for f in files if f.startswith("anywidget/")]
    assert "?v=" not in "".join(anywidget) and any("remoteEntry" in f for f in anywidget)  # it asks without
    assert not [f for f in files if f.startswith("jupyterlab-plotly/")]  # denied: the page never loads it
    assert not [f for f in files if f.startswith("@voila-dashboards/jupyterlab-preview/")]  # Voilà disables it


def test_an_allow_list_keeps_only_its_extensions():
    files = extension_files(VoilaConfiguration(extension_allowlist=["anywidget"]))
    assert {f.split("/static/")[0] for f in files} <= {"anywidget", "@voila-dashboards/widgets-manager8"}


def test_addresses_start_with_voilas_application_under_the_base_url(tmp_path):
    (tmp_path / "voila.js").write_text("r.e(1)")
    (tmp_path / "1.voila.js").write_text("")
    addresses = preload_addresses("/base/", VoilaConfiguration(extension_denylist=["jupyterlab-plotly"]), [str(tmp_path)])
    assert addresses[0] == "/base/voila/static/1.voila.js"
    assert all(a.startswith("/base/voila/labextensions/") for a in addresses[1:]) and len(addresses) > 2
