"""Rendering the report: pure functions from store rows to HTML.

:func:`render_report` returns one self-contained page (figures embedded); :func:`write_report`
writes the page with its figures as separate files in ``<name>_files/`` beside it (linked by
relative paths, lazily loaded, so the page opens fast) and one page per run in
``<name>_files/runs/<run_id>.html``, linked from every index.

What the report says about an experiment (title, description, reference, figure captions) is
what the runner recorded in the store when it ran (:meth:`wgflow.store.Store.experiment`); a run
of an older wgflow, which recorded none, shows its experiment's name and humanised figure names.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping, Sequence
from collections.abc import Set as AbstractSet
from pathlib import Path
from typing import Any

from .._version import __version__
from ..plotting.verdicts import tally
from ..store import Store, StoreError, atomic_write_bytes
from .claims import claims_table as _claims_table
from .figures import Files, figure_html
from .markup import e
from .markup import table as _table
from .numbers import fmt
from .prose import inline
from .rest import docstring_to_html
from .sweep import sweep_section

__all__ = ["render_report", "write_report"]

_CSS = """
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0 auto;max-width:1100px;padding:1.5em;color:#222}
h1{margin-bottom:.2em} h2{border-bottom:2px solid #ddd;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;margin:.6em 0;font-size:14px} th,td{border:1px solid #ccc;padding:.25em .55em;text-align:left;vertical-align:top}
th{background:#f4f4f4} td.num{text-align:right;font-variant-numeric:tabular-nums}
tr.evidence td.verdict{color:#0a6b2a;font-weight:700} tr.pass td.verdict{color:#8a6d00;font-weight:600} tr.posthoc td.verdict{color:#666;font-style:italic} tr.fail td.verdict{color:#b00020;font-weight:600} .null-pass{color:#8a6d00} .null-fail{color:#0a6b2a} .power{color:#555;font-size:90%}
.status-completed{color:#0a6b2a} .status-failed{color:#b00020} .status-interrupted,.status-running{color:#9a6700}
figure{display:inline-block;margin:.5em 1em .5em 0} figure img{max-width:100%;border:1px solid #eee}
figcaption{font-size:13px;color:#555} pre{background:#f7f7f7;padding:.6em;overflow-x:auto;font-size:13px;white-space:pre-wrap}
.summary{font-size:17px} details{margin:.4em 0} .note{font-size:12px;color:#666;margin-top:.2em}
td.source{font-size:12px;color:#444;max-width:14em}
.description p{max-width:48em} math[display=block]{margin:.6em 0} .eq-note{font-size:12px;color:#666}
.docutils.literal{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:92%} .description h4{margin:1em 0 .3em}
.latest{border-left:4px solid #2a6fdb;padding-left:.6em} .other-runs{font-size:14px} nav.toc ul{columns:2}
figure{max-width:520px} figure img{width:100%;height:auto} tr.highlight td{background:#eef4ff}
figure.wide{display:block;max-width:100%}
"""


def _fmt(v: Any) -> str:
    return fmt(v, max_len=None)


def run_href(run_id: str, files: Files | None, up: str = "") -> str:
    """Link to a run: its page when pages are written, else its row of the index."""
    return f"{up}{files.prefix}/runs/{run_id}.html" if files else f"#run-{run_id}"


def _when(t: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(t)) if t else "–"


def _control_section(store: Store, name: str, control: dict[str, Any] | None) -> str:
    """The latest negative-control run (training switched off): it should pass no claim."""
    if control is None:
        return (
            '<p class="no-control">No negative control recorded: run it with '
            f"<code>wgflow run {e(name)} --untrained</code>.</p>"
        )
    cl = store.claims(control["run_id"])
    n_pass = sum(c["passed"] for c in cl)
    verdict = "as it should" if n_pass == 0 else "these claims hold without training: they are not evidence"
    return (
        f'<details class="control"><summary>Negative control <code>{e(control["run_id"])}</code> '
        f"({e(control['preset'])}, training switched off): {n_pass} of {len(cl)} claims passed, {e(verdict)}"
        f"</summary>{_claims_table(cl, 'control-claims') if cl else ''}</details>"
    )


def _experiment_section(
    store: Store,
    run: dict[str, Any],
    about: dict[str, Any] | None,
    control: dict[str, Any] | None = None,
    files: Files | None = None,
    others: Sequence[dict[str, Any]] = (),
) -> str:
    """``about``: the experiment as recorded in the store (:meth:`Store.experiment`), None if never recorded."""
    name = run["experiment"]
    about = about or {}
    title = about.get("title") or name
    desc = (about.get("description") or "").strip()
    ref = about.get("reference") or ""
    parts = [f'<section class="experiment" id="exp-{e(name)}">', f"<h2>{e(name)}: {inline(title)}</h2>"]
    if ref:
        parts.append(f'<p class="reference"><b>Reference:</b> {e(ref)}</p>')
    if desc:
        parts.append(
            f'<details open><summary>Description</summary><div class="description">'
            f"{docstring_to_html(desc)}</div></details>"
        )
    parts.append(
        '<div class="latest">'
        + _run_line(run, files, "Latest run")
        + _run_body(store, run, about.get("captions") or {}, files)
        + _control_section(store, name, control)
        + "</div>"
    )
    if others:
        links = "".join(f"<li>{_run_line(r, files, 'Run')}</li>" for r in others)
        parts.append(
            f'<details class="other-runs"><summary>{len(others)} other run(s) of {e(name)}</summary>'
            f"<ul>{links}</ul></details>"
        )
    parts.append("</section>")
    return "\n".join(parts)


def _run_line(run: dict[str, Any], files: Files | None, label: str, up: str = "") -> str:
    rid, status = run["run_id"], run["status"]
    extra = ", untrained control" if run.get("untrained") else ""
    sweep = f", sweep {e(run['sweep_id'])}" if run.get("sweep_id") else ""
    return (
        f'<p class="run-line">{e(label)} <a class="run-link" href="{e(run_href(rid, files, up))}"><code>{e(rid)}'
        f"</code></a> ({e(run['preset'])}, seed {e(run['seed'])}{extra}{sweep}): "
        f'<span class="status-{e(status)}">{e(status)}</span>'
        + (f" — {e(run['message'])}" if run.get("message") else "")
        + "</p>"
    )


def _run_body(store: Store, run: dict[str, Any], captions: Mapping[str, str], files: Files | None, up: str = "") -> str:
    """Claims, figures, metrics, config and provenance of one run."""
    rid = run["run_id"]
    claims = store.claims(rid)
    parts = [_claims_table(claims) if claims else '<p class="no-claims">no claims recorded</p>']
    artifacts = store.artifacts(rid)
    figs = [a for a in artifacts if a["kind"] == "figure"]
    beside = {a["name"]: a for a in artifacts if a["kind"] in ("preview", "caption")}
    if figs:
        parts.append(
            '<div class="figures">'
            + "".join(figure_html(a, captions, files, rid, up, root=store.root, beside=beside) for a in figs)
            + "</div>"
        )
    metrics = store.summary_metrics(rid)
    if metrics:
        parts.append(
            "<details><summary>Metrics</summary>"
            + _table(("metric", "value"), ((e(k), e(_fmt(v))) for k, v in metrics.items()), "metrics")
            + "</details>"
        )
    parts.append(
        "<details><summary>Config</summary>"
        + _table(("key", "value"), ((e(k), e(json.dumps(v))) for k, v in run["config"].items()), "config")
        + "</details>"
    )
    meta = [
        ("run id", rid),
        ("seed", run["seed"]),
        ("preset", run["preset"]),
        ("started", _when(run["started_at"])),
        ("ended", _when(run["ended_at"])),
        ("wall time", f"{run['duration_s']:.1f} s"),
        ("attempts", run["attempts"]),
        ("git revision", run["git_rev"] or "unknown"),
        ("host", run["host"]),
        *((f"version of {k}", v or "–") for k, v in sorted(run["versions"].items())),
    ]
    parts.append(
        "<details><summary>Provenance: seed, timings, versions</summary>"
        + _table(("field", "value"), ((e(k), e(v)) for k, v in meta), "provenance")
        + "</details>"
    )
    return "\n".join(parts)


def _index(runs: list[dict[str, Any]], files: Files | None = None, latest_ids: AbstractSet[str] = frozenset()) -> str:
    rows = []
    for r in runs:
        claims = f"{r.get('n_evidence', 0)}/{r['n_passed']}/{r['n_claims']}" if r["n_claims"] else "–"
        preset = f"{r['preset']} (untrained)" if r.get("untrained") else r["preset"]
        rid = r["run_id"]
        rows.append(
            (
                f'<a class="run-link" id="run-{e(rid)}" href="{e(run_href(rid, files) if files else "#exp-" + r["experiment"])}">'
                f"<code>{e(rid)}</code></a>" + (" ★" if rid in latest_ids else ""),
                f'<a href="#exp-{e(r["experiment"])}">{e(r["experiment"])}</a>',
                e(preset),
                e(r["seed"]),
                e(r.get("sweep_id") or "–"),
                f'<span class="status-{e(r["status"])}">{e(r["status"])}</span>',
                e(claims),
                e(_when(r["started_at"])),
                e(f"{r['duration_s']:.1f} s"),
                e(r.get("message") or ""),
            )
        )
    return (
        '<section id="runs"><h2>Index of runs</h2><p>★ the run shown in its experiment\'s section (the latest '
        "completed one); every run links to its own page.</p>"
        + _table(
            (
                "run",
                "experiment",
                "preset",
                "seed",
                "sweep",
                "status",
                "claims evidence/passed/all",
                "started",
                "wall time",
                "message",
            ),
            rows,
            "runs",
            f' data-runs="{len(runs)}"',
        )
        + "</section>"
    )


def _page(title: str, body: str) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{e(title)}</title><style>{_CSS}</style></head><body>{body}</body></html>\n"
    )


def render_run_page(store: Store, run: dict[str, Any], files: Files, index_name: str) -> str:
    """The page of one run (written to ``<files>/runs/<run_id>.html``)."""
    up = "../../"
    about = store.experiment(run["experiment"]) or {}
    body = (
        f'<p><a href="{e(up + index_name)}">← report</a> · <a href="{e(up + index_name)}#exp-'
        f'{e(run["experiment"])}">{e(run["experiment"])}</a> · <a href="{e(up + index_name)}#runs">all runs</a></p>'
        f"<h1>Run {e(run['run_id'])}</h1><h2>{e(run['experiment'])}: {inline(about.get('title') or '')}</h2>"
        + _run_line(run, files, "Run", up)
        + _run_body(store, run, about.get("captions") or {}, files, up)
    )
    return _page(f"wgflow run {run['run_id']}", body)


def render_report(store: Store, files: Files | None = None) -> str:
    """The report of ``store`` as an HTML string (figures embedded unless ``files`` says where they go)."""
    latest = store.latest_runs()
    controls = store.latest_runs(untrained=True)
    runs = store.runs()
    sections, verdicts, n_pass = [], [], 0
    for name, run in latest.items():
        cl = store.claims(run["run_id"])
        verdicts += [c["verdict"] for c in cl]
        n_pass += sum(c["passed"] for c in cl)
        others = [r for r in runs if r["experiment"] == name and r["run_id"] != run["run_id"]]
        sections.append(_experiment_section(store, run, store.experiment(name), controls.get(name), files, others))
    sweeps = sorted({r["sweep_id"] for r in runs if r.get("sweep_id")})
    toc = (
        '<nav class="toc"><h2>Contents</h2><ul>'
        + "".join(
            f'<li><a href="#exp-{e(n)}">{e(n)}</a> ({e(r["status"])}, '
            f"{e(r.get('n_evidence', 0))} evidence, {e(r['n_passed'])}/{e(r['n_claims'])} pass)</li>"
            for n, r in latest.items()
        )
        + (
            f'<li><a href="#sweeps">Sweeps</a> ({len(sweeps)}): '
            + ", ".join(f'<a href="#sweep-{e(s)}">{e(s)}</a>' for s in sweeps)
            + "</li>"
            if sweeps
            else ""
        )
        + f'<li><a href="#runs">Index of runs</a> ({len(runs)})</li></ul></nav>'
    )
    body = (
        f"<h1>wgflow report</h1><p>Generated {e(_when(time.time()))} by wgflow {e(__version__)} from "
        f"<code>{e(store.root)}</code>.</p>"
        f'<p class="summary" data-claims="{len(verdicts)}" data-passed="{n_pass}" '
        f'data-evidence="{verdicts.count("evidence")}">'
        f"{len(latest)} experiments (latest run of each): {e(tally(verdicts))}. A claim is evidence when it "
        "passes, the same statistic by the same rule on its null (what a skeptic would offer instead) fails, "
        "and its rule was registered before the run.</p>"
        + toc
        + ("\n".join(sections) or "<p>No runs in this store yet.</p>")
        + sweep_section(store)
        + _index(runs, files, {r["run_id"] for r in latest.values()})
    )
    return _page("wgflow report", body)


def write_report(store: Store, out_path: str | os.PathLike | None = None) -> Path:
    """Write the report (default ``<store>/report.html``), its figures and run pages; returns its absolute path.

    Figures and run pages go to ``<stem>_files/`` beside the page (relative links: move both together).
    Only regular files inside the store are copied: a link, or a path leading out of the store, is refused,
    named in the page, and the report, once written, raises :class:`~wgflow.store.StoreError` naming them.
    """
    out = Path(out_path) if out_path is not None else store.root / "report.html"
    out.parent.mkdir(parents=True, exist_ok=True)
    files = Files(out.parent / f"{out.stem}_files", f"{out.stem}_files")
    page = render_report(store, files)
    for run in store.runs():
        html_ = render_run_page(store, run, files, out.name)
        atomic_write_bytes(files.root / "runs" / f"{run['run_id']}.html", html_.encode("utf-8"))
    atomic_write_bytes(out, page.encode("utf-8"))
    if files.refused:
        names = ", ".join(sorted({str(p) for p in files.refused}))
        raise StoreError(
            f"report {out} was written without {len(set(files.refused))} store file(s) that are links or lead "
            f"out of the store ({names}); check the store with `wgflow runs --check --store {store.root}`"
        )
    return out.resolve()
