"""The JavaScript files a Voilà page will fetch before its widgets can draw, listed for the page's head.

A Voilà 0.5 page fetches its files in dependent waves: voila.js first; then the chunks voila.js asks for; then,
once those have run (over a second of script on a busy machine), each lab extension's remoteEntry, and only
when that has run, the extension's own chunks. Listed as `<link rel="preload" as="script">` in the head, they
are all fetched in the first wave, while the browser is still busy running Voilà's own code, and a later
`<script>` for the same address takes the preloaded file instead of fetching it again.

Everything is read from the installed files once, when the server starts (no file name is written here):
- Voilà's application: the chunks `voila.js` loads at start-up (its `x.e(N)` calls) that exist as `N.voila.js`.
- each lab extension the page loads (Voilà's own page configuration, so voila.json's deny and allow lists
  count): its remoteEntry and its numbered chunks (`N.HASH.js`), at the address the remoteEntry asks for
  (some add `?v=HASH`).
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

from jupyter_server.utils import url_path_join
from jupyterlab_server.config import get_federated_extensions
from voila.configuration import VoilaConfiguration
from voila.utils import get_page_config, get_voila_labextensions_path

CHUNK_CALL = re.compile(r"\b[a-zA-Z_$]\.e\((\d+)\)")  # webpack's "load chunk N" in a minified runtime
EXTENSION_CHUNK = re.compile(r"(\d+)\.([0-9a-f]+)\.js")
# a remoteEntry that asks for its chunks as "N.HASH.js?v=HASH" (the form jupyterlab's builder writes)
VERSIONED_CHUNKS = '".js?v="'


def voila_chunks(static_paths: list[str]) -> list[str]:
    """The chunk files Voilà's voila.js loads at start-up, in the order it names them; `static_paths`: the
    folders Voilà serves /voila/static/ from (its template's), the first with voila.js is the one served."""
    static = next((Path(folder) for folder in static_paths if (Path(folder) / "voila.js").is_file()), None)
    if static is None:  # another front end than Voilà's application: nothing known to preload
        return []
    runtime = (static / "voila.js").read_text(encoding="utf-8")
    ids = dict.fromkeys(CHUNK_CALL.findall(runtime))
    return [f"{chunk}.voila.js" for chunk in ids if (static / f"{chunk}.voila.js").is_file()]


def extension_files(voila_configuration: VoilaConfiguration) -> list[str]:
    """Each lab extension the page loads: its remoteEntry and chunks, relative to the labextensions address."""
    page_config = get_page_config("/", {}, logging.getLogger(__name__), voila_configuration)
    installed = get_federated_extensions(get_voila_labextensions_path(voila_configuration.extra_labextensions_path))
    files = []
    for extension in page_config["federated_extensions"]:
        name, load = extension["name"], extension["load"].removeprefix("./")
        folder = Path(installed[name]["ext_path"])
        entry = folder / load
        files.append(f"{name}/{load}")
        versioned = VERSIONED_CHUNKS in entry.read_text(encoding="utf-8")
        for chunk in sorted(entry.parent.iterdir()):
            match = EXTENSION_CHUNK.fullmatch(chunk.name)
            if match:
                address = f"{name}/{chunk.relative_to(folder).as_posix()}"
                files.append(f"{address}?v={match.group(2)}" if versioned else address)
    return files


def preload_addresses(base_url: str, voila_configuration: VoilaConfiguration, static_paths: list[str]) -> list[str]:
    """The addresses to preload, Voilà's application first (the page needs it first)."""
    static = url_path_join(base_url, "voila", "static")
    extensions = url_path_join(base_url, "voila", "labextensions")
    return ([url_path_join(static, name) for name in voila_chunks(static_paths)]
            + [url_path_join(extensions, name) for name in extension_files(voila_configuration)])
