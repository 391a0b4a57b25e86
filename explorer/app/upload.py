"""Uploads from the page: a file picker that checks the size in the browser and sends files in pieces.

Why not ipywidgets' FileUpload: it sends every chosen file in one websocket message, and the server
(tornado, under Voilà and Jupyter alike) closes the socket on any message above its
`websocket_max_message_size`, 10 MiB by default. The kernel never hears of it and the page says
nothing: the 20-60 MB uploads of issue 12. This picker instead
- compares the files' total size with UPLOAD_LIMIT_BYTES in the browser, from `File.size`, before any
  byte is read: a file over the limit is never sent, and the kernel says so in the page;
- sends the rest in CHUNK_BYTES pieces (each far below any server's message limit), which the kernel
  writes straight to disk, so nothing depends on server settings and no upload sits whole in memory;
- checks again in the kernel what actually arrives (a page is not trusted to count).

Uploaded files go to a fresh folder `trial-explorer-upload-*` in the temporary directory, removed when
the kernel (the session) ends.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import anywidget
import traitlets

from explorer.errors import DataError

# 50 MB: a screening table of about 500,000 subjects as CSV. The file is read into the browser, crosses
# the websocket and is written to the server's disk; data larger than that is better given by path.
UPLOAD_LIMIT_BYTES = 50_000_000
CHUNK_BYTES = 4 * 2**20  # well below tornado's default 10 MiB websocket message limit
FOLDER_PREFIX = "trial-explorer-upload-"

_UPLOAD_FOLDERS: list[Path] = []


def remove_uploads() -> None:
    """Uploaded files live as long as the session (the kernel): removed when it ends."""
    for folder in _UPLOAD_FOLDERS:
        shutil.rmtree(folder, ignore_errors=True)
    _UPLOAD_FOLDERS.clear()


atexit.register(remove_uploads)


def megabytes(size: int) -> str:
    return f"{size / 1e6:.1f} MB"


def check_size(size: int, names: list[str]) -> None:
    """The limit, said once: a DataError naming the files, their size and what to do instead."""
    if size > UPLOAD_LIMIT_BYTES:
        raise DataError(f"{', '.join(names)}: {megabytes(size)} is more than the upload limit of "
                        f"{megabytes(UPLOAD_LIMIT_BYTES)}; nothing was sent. Put the file in a folder the "
                        "dashboard may read and give its path instead")


def _safe_names(given: list[str]) -> list[str]:
    """File names that stay inside the upload folder and do not overwrite each other."""
    names: list[str] = []
    for i, name in enumerate(given):
        name = Path(name.replace("\\", "/")).name
        if name in ("", ".", ".."):
            name = f"file{i}"
        stem, suffix, n = Path(name).stem, Path(name).suffix, 1
        while name in names:
            n += 1
            name = f"{stem}-{n}{suffix}"
        names.append(name)
    return names


class _Receiving:
    """One upload as its pieces arrive: the files it announced, written to a fresh folder."""

    def __init__(self, files: list[dict]):
        self.names = _safe_names([str(f.get("name", "")) for f in files])
        self.sizes = [int(f.get("size", 0)) for f in files]
        self.folder = Path(tempfile.mkdtemp(prefix=FOLDER_PREFIX))
        _UPLOAD_FOLDERS.append(self.folder)
        self.paths = [self.folder / name for name in self.names]
        self.received = 0
        for path in self.paths:
            path.write_bytes(b"")

    def write(self, index: int, offset: int, data: bytes) -> None:
        self.received += len(data)
        check_size(self.received, self.names)  # what arrives, not what the page announced
        if not 0 <= index < len(self.paths) or offset != self.paths[index].stat().st_size:
            raise DataError(f"{self.names[min(max(index, 0), len(self.names) - 1)]}: a piece of the upload "
                            "arrived out of order; upload the file again")
        with self.paths[index].open("ab") as out:
            out.write(data)

    def finish(self) -> list[Path]:
        for name, path, size in zip(self.names, self.paths, self.sizes, strict=True):
            if path.stat().st_size != size:
                raise DataError(f"{name}: {path.stat().st_size:,} of {size:,} bytes arrived; upload the file again")
        return self.paths


class FilePicker(anywidget.AnyWidget):
    """A button that opens the browser's file chooser; `on_upload(callback)` hears of every upload.

    The callback gets a function that returns the saved files' paths, or raises the DataError that says
    why there are none (too large, incomplete): the caller runs it where it shows errors.
    """

    _esm = """
    function render({ model, el }) {
      const label = document.createElement("label");
      label.className = "jupyter-widgets jupyter-button widget-button te-upload";
      label.style.display = "inline-flex";
      label.style.alignItems = "center";
      label.style.cursor = "pointer";
      const input = document.createElement("input");
      input.type = "file";
      input.style.display = "none";
      input.accept = model.get("accept");
      input.multiple = model.get("multiple");
      input.dataset.testid = model.get("testid");
      label.append(model.get("description"), input);
      const status = document.createElement("span");
      status.className = "te-muted te-upload-status";
      status.style.marginLeft = "6px";
      const show = () => { status.textContent = model.get("status"); };
      model.on("change:status", show);
      show();
      let upload = 0;
      input.addEventListener("change", async () => {
        const files = Array.from(input.files);
        input.value = "";  // choosing the same file again is a new upload
        if (!files.length) return;
        const id = ++upload;
        const total = files.reduce((n, f) => n + f.size, 0);
        model.send({ kind: "start", id, files: files.map(f => ({ name: f.name, size: f.size })) });
        if (total > model.get("limit")) return;  // the kernel says why; not one byte is read or sent
        const chunk = model.get("chunk");
        for (const [index, file] of files.entries()) {
          for (let offset = 0; offset < file.size; offset += chunk) {
            if (id !== upload) return;  // a newer choice replaces this one
            const piece = await file.slice(offset, offset + chunk).arrayBuffer();
            status.textContent = `sending ${file.name}: ${Math.round(100 * (offset + piece.byteLength) / file.size)} %`;
            model.send({ kind: "chunk", id, file: index, offset }, undefined, [piece]);
          }
        }
        model.send({ kind: "end", id });
      });
      el.append(label, status);
    }
    export default { render };
    """
    description = traitlets.Unicode("Upload").tag(sync=True)
    accept = traitlets.Unicode("").tag(sync=True)
    multiple = traitlets.Bool(False).tag(sync=True)
    testid = traitlets.Unicode("upload").tag(sync=True)  # data-testid of the <input>, for tests
    status = traitlets.Unicode("").tag(sync=True)
    limit = traitlets.Int(UPLOAD_LIMIT_BYTES).tag(sync=True)
    chunk = traitlets.Int(CHUNK_BYTES).tag(sync=True)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._callbacks: list[Callable[[Callable[[], list[Path]]], None]] = []
        self._receiving: dict[int, _Receiving] = {}
        self.on_msg(self._message)

    def on_upload(self, callback: Callable[[Callable[[], list[Path]]], None]) -> None:
        self._callbacks.append(callback)

    def _announce(self, outcome: Callable[[], list[Path]]) -> None:
        for callback in self._callbacks:
            callback(outcome)

    def _fail(self, err: DataError) -> None:
        self.status = "not loaded"

        def outcome() -> list[Path]:
            raise err
        self._announce(outcome)

    def _message(self, _widget, content: dict, buffers: list) -> None:
        kind, upload = content.get("kind"), content.get("id")
        try:
            if kind == "start":
                files = list(content.get("files") or [])
                self._receiving.clear()  # a new choice replaces any unfinished one
                check_size(sum(int(f.get("size", 0)) for f in files), [str(f.get("name")) for f in files])
                self._receiving[upload] = _Receiving(files)
                self.status = "sending…"
            elif kind == "chunk" and upload in self._receiving:
                self._receiving[upload].write(int(content.get("file", -1)), int(content.get("offset", -1)),
                                              b"".join(bytes(b) for b in buffers))
            elif kind == "end" and upload in self._receiving:
                receiving = self._receiving.pop(upload)
                paths = receiving.finish()
                self.status = f"received {', '.join(receiving.names)} ({megabytes(sum(receiving.sizes))})"
                self._announce(lambda: paths)
        except DataError as err:
            failed = self._receiving.pop(upload, None)
            if failed is not None:  # a part of a file is no use to anyone
                shutil.rmtree(failed.folder, ignore_errors=True)
            self._fail(err)
