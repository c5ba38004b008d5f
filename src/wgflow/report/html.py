"""Rendering the report: pure functions from store rows to an HTML string."""

from __future__ import annotations

import base64
import html
import json
import os
import time
from pathlib import Path
from typing import Any, Iterable

from .._version import __version__
from ..store import Store, atomic_write_bytes

__all__ = ["render_report", "write_report"]

_CSS = """
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0 auto;max-width:1100px;padding:1.5em;color:#222}
h1{margin-bottom:.2em} h2{border-bottom:2px solid #ddd;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;margin:.6em 0;font-size:14px} th,td{border:1px solid #ccc;padding:.25em .55em;text-align:left;vertical-align:top}
th{background:#f4f4f4} td.num{text-align:right;font-variant-numeric:tabular-nums}
tr.pass td.verdict{color:#0a6b2a;font-weight:600} tr.fail td.verdict{color:#b00020;font-weight:600}
.status-completed{color:#0a6b2a} .status-failed{color:#b00020} .status-interrupted,.status-running{color:#9a6700}
figure{display:inline-block;margin:.5em 1em .5em 0} figure img{max-width:100%;border:1px solid #eee}
figcaption{font-size:13px;color:#555} pre{background:#f7f7f7;padding:.6em;overflow-x:auto;font-size:13px;white-space:pre-wrap}
.summary{font-size:17px} details{margin:.4em 0} .note{font-size:12px;color:#666;margin-top:.2em}
td.source{font-size:12px;color:#444;max-width:14em}
"""

_FIGURE_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif",
                 ".svg": "image/svg+xml"}


def e(x: Any) -> str:
    """Escape any value for HTML text and attributes."""
    return html.escape("" if x is None else str(x), quote=True)


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    if v is None:
        return "–"
    return str(v)


def _when(t: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(t)) if t else "–"


def _table(header: Iterable[str], rows: Iterable[Iterable[str]], cls: str = "", attrs: str = "") -> str:
    """``rows`` hold already-escaped cell HTML."""
    head = "".join(f"<th>{e(h)}</th>" for h in header)
    body = "".join(f"<tr>{''.join(f'<td>{c}</td>' for c in r)}</tr>" for r in rows)
    return f'<table class="{e(cls)}"{attrs}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _ci(ci: Any) -> str:
    return f"[{_fmt(ci[0])}, {_fmt(ci[1])}]" if ci else "–"


def _claims_table(claims: list[dict[str, Any]], kind: str = "claims") -> str:
    """Claims with their evidence: source, measured value, its CI, the control's value, the verdict."""
    n_pass = sum(c["passed"] for c in claims)
    rows = []
    for c in claims:
        verdict = "pass" if c["passed"] else "fail"
        note = f'<div class="note">{e(c["note"])}</div>' if c.get("note") else ""
        rows.append(
            f'<tr class="claim {verdict}"><td>{e(c["name"])}</td><td>{e(c["statement"])}{note}</td>'
            f'<td class="source">{e(c.get("source") or "–")}</td>'
            f'<td>{e(c["expected"])}</td><td class="num">{e(_fmt(c["measured"]))}</td>'
            f'<td class="num ci">{e(_ci(c.get("ci")))}</td><td class="num control">{e(_fmt(c.get("control")))}</td>'
            f'<td class="num">{e(_fmt(c["tolerance"]))}</td><td class="verdict">{verdict.upper()}</td></tr>'
        )
    head = "".join(f"<th>{h}</th>" for h in ("claim", "statement", "source", "expected", "measured", "CI",
                                              "control", "tolerance", "result"))
    return (f'<p class="claim-count">{n_pass} of {len(claims)} claims passed</p>'
            f'<table class="{kind}" data-claims="{len(claims)}" data-passed="{n_pass}">'
            f"<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>")


def _control_section(store: Store, name: str, control: dict[str, Any] | None) -> str:
    """The latest negative-control run (training switched off): it should pass no claim."""
    if control is None:
        return ('<p class="no-control">No negative control recorded: run it with '
                f"<code>wgflow run {e(name)} --untrained</code>.</p>")
    cl = store.claims(control["run_id"])
    n_pass = sum(c["passed"] for c in cl)
    verdict = "as it should" if n_pass == 0 else "these claims hold without training: they are not evidence"
    return (f'<details class="control"><summary>Negative control <code>{e(control["run_id"])}</code> '
            f'({e(control["preset"])}, training switched off): {n_pass} of {len(cl)} claims passed, {e(verdict)}'
            f"</summary>{_claims_table(cl, 'control-claims') if cl else ''}</details>")


def _figure(a: dict[str, Any]) -> str:
    path = Path(a["path"])
    mime = _FIGURE_TYPES.get(path.suffix.lower())
    if mime is None or not path.exists():
        return f'<p class="missing">figure {e(a["name"])} is missing ({e(path.name)})</p>'
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return (f'<figure><img src="data:{mime};base64,{data}" alt="{e(a["name"])}">'
            f"<figcaption>{e(a['name'])}</figcaption></figure>")


def _experiment_section(store: Store, run: dict[str, Any], exp: Any, control: dict[str, Any] | None = None) -> str:
    rid = run["run_id"]
    claims = store.claims(rid)
    title = getattr(exp, "title", run["experiment"])
    desc = (getattr(exp, "description", "") or "").strip()
    ref = getattr(exp, "reference", "")
    parts = [f'<section class="experiment" id="exp-{e(run["experiment"])}">',
             f"<h2>{e(run['experiment'])}: {e(title)}</h2>"]
    if ref:
        parts.append(f'<p class="reference"><b>Reference:</b> {e(ref)}</p>')
    if desc:
        parts.append(f'<details open><summary>Description</summary><pre class="description">{e(desc)}</pre></details>')
    status = run["status"]
    parts.append(f'<p>Run <code>{e(rid)}</code> ({e(run["preset"])}, seed {e(run["seed"])}): '
                 f'<span class="status-{e(status)}">{e(status)}</span>'
                 + (f" — {e(run['message'])}" if run.get("message") else "") + "</p>")
    parts.append(_claims_table(claims) if claims else '<p class="no-claims">no claims recorded</p>')
    parts.append(_control_section(store, run["experiment"], control))
    figs = store.artifacts(rid, kind="figure")
    if figs:
        parts.append('<div class="figures">' + "".join(_figure(a) for a in figs) + "</div>")
    metrics = store.summary_metrics(rid)
    if metrics:
        parts.append("<details><summary>Metrics</summary>"
                     + _table(("metric", "value"), ((e(k), e(_fmt(v))) for k, v in metrics.items()), "metrics")
                     + "</details>")
    parts.append("<details><summary>Config</summary>"
                 + _table(("key", "value"), ((e(k), e(json.dumps(v))) for k, v in run["config"].items()), "config")
                 + "</details>")
    meta = [("run id", rid), ("seed", run["seed"]), ("preset", run["preset"]), ("started", _when(run["started_at"])),
            ("ended", _when(run["ended_at"])), ("wall time", f"{run['duration_s']:.1f} s"),
            ("attempts", run["attempts"]), ("git revision", run["git_rev"] or "unknown"), ("host", run["host"]),
            *((f"version of {k}", v or "–") for k, v in sorted(run["versions"].items()))]
    parts.append("<details><summary>Provenance: seed, timings, versions</summary>"
                 + _table(("field", "value"), ((e(k), e(v)) for k, v in meta), "provenance") + "</details>")
    parts.append("</section>")
    return "\n".join(parts)


def _index(runs: list[dict[str, Any]]) -> str:
    rows = []
    for r in runs:
        claims = f"{r['n_passed']}/{r['n_claims']}" if r["n_claims"] else "–"
        preset = f"{r['preset']} (untrained)" if r.get("untrained") else r["preset"]
        rows.append((f"<code>{e(r['run_id'])}</code>", e(r["experiment"]), e(preset), e(r["seed"]),
                     f'<span class="status-{e(r["status"])}">{e(r["status"])}</span>', e(claims),
                     e(_when(r["started_at"])), e(f"{r['duration_s']:.1f} s"), e(r.get("message") or "")))
    return ('<section id="runs"><h2>Index of runs</h2>'
            + _table(("run", "experiment", "preset", "seed", "status", "claims passed", "started", "wall time",
                      "message"),
                     rows, "runs", f' data-runs="{len(runs)}"') + "</section>")


def render_report(store: Store) -> str:
    """The report of ``store`` as an HTML string."""
    from ..experiments.base import _REGISTRY, list_experiments
    from ..parallel.report import sweep_section  # tables and scaling plots of parameter sweeps

    list_experiments()  # import every experiment module
    latest = store.latest_runs()
    controls = store.latest_runs(untrained=True)
    runs = store.runs()
    sections, n_claims, n_pass = [], 0, 0
    for name, run in latest.items():
        cl = store.claims(run["run_id"])
        n_claims += len(cl)
        n_pass += sum(c["passed"] for c in cl)
        sections.append(_experiment_section(store, run, _REGISTRY.get(name), controls.get(name)))
    toc = "".join(f'<li><a href="#exp-{e(n)}">{e(n)}</a> ({e(r["status"])})</li>' for n, r in latest.items())
    body = (f"<h1>wgflow report</h1><p>Generated {e(_when(time.time()))} by wgflow {e(__version__)} from "
            f"<code>{e(store.root)}</code>.</p>"
            f'<p class="summary" data-claims="{n_claims}" data-passed="{n_pass}">'
            f"{len(latest)} experiments, {n_pass} of {n_claims} claims passed (latest run of each experiment).</p>"
            f"<ul class=\"toc\">{toc}</ul>" + ("\n".join(sections) or "<p>No runs in this store yet.</p>")
            + sweep_section(store) + _index(runs))
    return ('<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>wgflow report</title><style>{_CSS}</style></head><body>{body}</body></html>\n")


def write_report(store: Store, out_path: str | os.PathLike | None = None) -> Path:
    """Write the report atomically (default ``<store>/report.html``); returns its absolute path."""
    out = Path(out_path) if out_path is not None else store.root / "report.html"
    atomic_write_bytes(out, render_report(store).encode("utf-8"))
    return out.resolve()
