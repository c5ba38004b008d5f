"""Figures in the report: each with its caption, a PDF shown by its PNG preview, a wide one across the page.

:func:`figure_html` renders one figure artifact of a run: its caption is the statement the store recorded
for it (:func:`caption`) followed, for a figure saved in the ``paper`` style, by the verdicts recorded beside
it (``<figure>.caption``); a PDF shows the PNG preview recorded beside it (``<figure>.preview``) and links to
the PDF; a figure at least :data:`WIDE` times wider than high (panels side by side) gets the class ``wide``,
which spans the report's full width. :class:`Files` copies the figures beside a written report.
"""

from __future__ import annotations

import base64
import re
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .._io import inside
from ..plotting.verdicts import caption_verdicts
from .markup import e
from .prose import inline

__all__ = ["Files", "caption", "aspect", "figure_html", "WIDE"]

WIDE = 1.8  # a figure this many times wider than high (panels side by side) takes the report's full width
_FIGURE_TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".svg": "image/svg+xml",
}


class Files:
    """Where :func:`wgflow.report.write_report` puts figures and run pages: ``<dir>/`` linked as ``<prefix>/``."""

    def __init__(self, root: Path, prefix: str):
        self.root, self.prefix = root, prefix
        self.refused: list[Path] = []  # store files not copied: links, or paths out of the store
        (root / "figures").mkdir(parents=True, exist_ok=True)
        (root / "runs").mkdir(parents=True, exist_ok=True)

    def figure(self, run_id: str, path: Path) -> str:
        dest = self.root / "figures" / f"{run_id}-{path.name}"
        if not dest.exists() or dest.stat().st_mtime < path.stat().st_mtime:
            shutil.copyfile(path, dest)
        return f"{self.prefix}/figures/{dest.name}"


def caption(a: dict[str, Any], captions: Mapping[str, str]) -> str:
    """The statement a figure shows (``captions[name]``, as recorded in the store), else its humanised name."""
    return captions.get(a["name"]) or re.sub(r"[_-]+", " ", a["name"]).strip().capitalize()


def _safe(path: Path, root: Path) -> bool:
    return not path.is_symlink() and inside(path, root)


def _beside(beside: Mapping[str, dict[str, Any]], name: str, root: Path) -> Path | None:
    """The file recorded beside a figure (``<figure>.preview``, ``<figure>.caption``) if it is there and safe."""
    a = beside.get(name)
    path = Path(a["path"]) if a else None
    return path if path is not None and _safe(path, root) and path.is_file() else None


def aspect(path: Path) -> float | None:
    """Width / height of a PNG (its header) or an SVG (its ``viewBox``); None for other files or unreadable ones."""
    try:
        with open(path, "rb") as f:
            head = f.read(4096)
    except OSError:
        return None
    if head[:8] == b"\x89PNG\r\n\x1a\n" and len(head) >= 24:
        w, h = int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")
        return w / h if h else None
    m = re.search(rb'viewBox="\s*[-\d.e]+[\s,]+[-\d.e]+[\s,]+([\d.e]+)[\s,]+([\d.e]+)', head)
    return float(m[1]) / float(m[2]) if m and float(m[2]) > 0 else None


def figure_html(
    a: dict[str, Any],
    captions: Mapping[str, str],
    files: Files | None = None,
    run_id: str = "",
    up: str = "",
    *,
    root: Path,
    beside: Mapping[str, dict[str, Any]] | None = None,
) -> str:
    """A figure with its caption (and, in the paper style, its verdicts); a PDF shows its PNG preview, linked
    to the PDF; a wide figure (several panels side by side) takes the full width."""
    path, beside = Path(a["path"]), beside or {}
    verdicts = _beside(beside, f"{a['name']}.caption", root)
    cap = caption_verdicts(
        caption(a, captions), verdicts.read_text("utf-8", "replace")[:1000].strip() if verdicts else None
    )
    if not _safe(path, root):  # a store file replaced by a link to /etc/passwd: never copied
        if files is not None:
            files.refused.append(path)
        return f'<p class="refused">figure {e(a["name"])} is refused: {e(path)} is a link or leads out of the store</p>'
    shown = path if path.suffix.lower() in _FIGURE_TYPES else _beside(beside, f"{a['name']}.preview", root)
    pdf = path.suffix.lower() == ".pdf"
    if not path.exists() or (shown is None and not (files and pdf)):
        return f'<p class="missing">figure {e(a["name"])} is missing ({e(path.name)})</p>'
    if shown is None and files is not None:  # a vector PDF without a preview: browsers do not show it in <img>
        return f'<p class="pdf-figure"><a href="{e(up + files.figure(run_id, path))}">{inline(cap)} (PDF)</a></p>'
    assert shown is not None
    if files is None:
        data = base64.b64encode(shown.read_bytes()).decode("ascii")
        src = href = f"data:{_FIGURE_TYPES[shown.suffix.lower()]};base64,{data}"
    else:
        src, href = up + files.figure(run_id, shown), up + files.figure(run_id, path)
    wide = ' class="wide"' if (aspect(shown) or 0.0) >= WIDE else ""
    return (
        f'<figure{wide}><a href="{e(href)}"><img src="{e(src)}" alt="{e(cap)}" '
        f'loading="lazy"></a><figcaption>{inline(cap)}{" (PDF)" if pdf else ""}</figcaption></figure>'
    )
