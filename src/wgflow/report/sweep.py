r"""The report's sweep section: one table per sweep and its scaling plots with fitted exponents.

For a swept numeric key k (e.g. the width n) and a positive summary metric m (e.g. the final
risk), the plot shows the mean over seeds of m against k on log-log axes with the least-squares
power law

    log m = log C + beta log k,

beta being the scaling exponent the sources predict (RVE 2018: loss ~ n^{-1}; propagation of
chaos: W2 ~ n^{-1/2}). Points are grouped by the other swept keys.
"""

from __future__ import annotations

import base64
import io
import json
import math
from collections import defaultdict
from typing import Any

import numpy as np

from .markup import e, table

__all__ = ["sweep_section", "fit_exponent", "sweep_table"]

_MAX_METRICS = 6  # metric columns in a table
_MAX_PLOTTED = 3  # metrics plotted per swept key


def _num(v: Any) -> str:
    return f"{v:.4g}" if isinstance(v, float) else ("–" if v is None else str(v))


def fit_exponent(k: np.ndarray, m: np.ndarray) -> tuple[float, float]:
    """Least-squares (beta, C) of m = C k^beta on log-log axes; needs >= 2 distinct positive k."""
    k, m = np.asarray(k, dtype=float), np.asarray(m, dtype=float)
    ok = (k > 0) & (m > 0) & np.isfinite(k) & np.isfinite(m)
    if len(np.unique(k[ok])) < 2:
        raise ValueError("a power-law fit needs at least two distinct positive abscissae")
    beta, logc = np.polyfit(np.log(k[ok]), np.log(m[ok]), 1)
    return float(beta), float(math.exp(logc))


def sweep_table(store, sweep_id: str) -> tuple[list[str], list[str], list[dict[str, Any]]]:
    """(swept config keys, metric names, one row per run) of a sweep, rows sorted by point and seed."""
    runs = store.runs(sweep_id=sweep_id)
    keys = sorted(
        {
            k
            for r in runs
            for k in r["config"]
            if len({json.dumps(x["config"].get(k), sort_keys=True) for x in runs}) > 1
        }
    )
    rows = []
    for r in runs:
        rows.append(
            {
                **{k: r["config"].get(k) for k in keys},
                "seed": r["seed"],
                "status": r["status"],
                "run_id": r["run_id"],
                "message": r.get("message"),
                "claims": (r["n_passed"], r["n_claims"]),
                "metrics": store.summary_metrics(r["run_id"]),
                "experiment": r["experiment"],
            }
        )
    rows.sort(
        key=lambda row: (
            [
                json.dumps(row[k], sort_keys=True) if not isinstance(row[k], (int, float)) else f"{row[k]:020.6f}"
                for k in keys
            ],
            row["seed"],
        )
    )
    names: list[str] = []
    for row in rows:
        names += [n for n in row["metrics"] if n not in names]
    names.sort(key=lambda n: (not any(w in n for w in ("risk", "loss", "w2", "error")), n))
    return keys, names, rows


def _plot(keys, names, rows) -> list[str]:
    """Base64 PNGs: per numeric swept key, the mean metric over seeds vs the key, log-log, fitted exponent."""
    done = [r for r in rows if r["status"] == "completed"]
    figs = []
    for k in keys:
        vals = {r[k] for r in done}
        if len(vals) < 2 or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0 for v in vals):
            continue
        plotted = [
            n for n in names if all(isinstance(r["metrics"].get(n), float) and r["metrics"][n] > 0 for r in done)
        ][:_MAX_PLOTTED]
        if not plotted:
            continue
        # only for a store with sweeps: `wgflow report` starts without matplotlib. An object-oriented
        # Figure (no pyplot): the caller's backend and open figures stay as they are
        from matplotlib.figure import Figure

        others = [o for o in keys if o != k]
        fig = Figure(figsize=(4.2 * len(plotted), 3.4))
        axes = fig.subplots(1, len(plotted), squeeze=False)
        for ax, name in zip(axes[0], plotted):
            groups: dict[str, dict[float, list[float]]] = defaultdict(lambda: defaultdict(list))
            for r in done:
                label = ", ".join(f"{o}={r[o]}" for o in others)
                groups[label][float(r[k])].append(r["metrics"][name])
            for label, pts in sorted(groups.items()):
                x = np.array(sorted(pts))
                y = np.array([np.mean(pts[v]) for v in x])
                err = np.array([np.std(pts[v]) for v in x])
                try:
                    beta, c = fit_exponent(x, y)
                    fit = f"slope {beta:.2f}"
                except ValueError:
                    beta, fit = None, "no fit"
                line = ax.errorbar(
                    x, y, yerr=err, fmt="o", ms=4, capsize=2, label=(label + ": " if label else "") + fit
                )
                if beta is not None:
                    xs = np.geomspace(x.min(), x.max(), 20)
                    ax.plot(xs, c * xs**beta, "-", lw=0.8, color=line[0].get_color())
            ax.set(xscale="log", yscale="log", xlabel=k, ylabel=f"{name} (mean over seeds)", title=f"{name} vs {k}")
            ax.legend(fontsize=7)
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=100)
        figs.append(base64.b64encode(buf.getvalue()).decode("ascii"))
    return figs


def sweep_section(store) -> str:
    """HTML of every sweep in ``store`` (empty string when there is none): table, failures, scaling plots."""
    ids = sorted({r["sweep_id"] for r in store.runs() if r.get("sweep_id")})
    if not ids:
        return ""
    parts = ['<section id="sweeps"><h2>Sweeps</h2>']
    for sid in ids:
        keys, names, rows = sweep_table(store, sid)
        shown = names[:_MAX_METRICS]
        n_done = sum(r["status"] == "completed" for r in rows)
        failed = [r for r in rows if r["status"] != "completed"]
        exp = rows[0]["experiment"] if rows else ""
        parts.append(
            f'<h3 id="sweep-{e(sid)}">{e(sid)} ({e(exp)})</h3>'
            f'<p class="sweep-count" data-points="{len(rows)}" data-completed="{n_done}">'
            f"{len(rows)} points, {n_done} completed, {len(failed)} not completed; swept: "
            f"{e(', '.join(keys) or 'seed only')}.</p>"
        )
        body = []
        for r in rows:
            claims = f"{r['claims'][0]}/{r['claims'][1]}" if r["claims"][1] else "–"
            cells = [
                *(e(json.dumps(r[k]) if not isinstance(r[k], (int, float, str)) else r[k]) for k in keys),
                e(r["seed"]),
                f'<span class="status-{e(r["status"])}">{e(r["status"])}</span>',
                e(claims),
                *(e(_num(r["metrics"].get(n))) for n in shown),
                f"<code>{e(r['run_id'])}</code>",
            ]
            body.append(cells)
        header = [*keys, "seed", "status", "claims", *shown, "run"]
        parts.append(table(header, body, "sweep", f' data-sweep="{e(sid)}"'))
        if failed:
            items = "".join(
                f"<li><code>{e(r['run_id'])}</code> "
                f"({e(', '.join(f'{k}={r[k]}' for k in keys))}, seed {e(r['seed'])}): "
                f"{e(r['status'])} — {e(r['message'] or '')}</li>"
                for r in failed
            )
            parts.append(
                f'<details open><summary>Points not completed</summary><ul class="sweep-failures">'
                f"{items}</ul></details>"
            )
        for png in _plot(keys, names, rows):
            parts.append(
                f'<figure><img src="data:image/png;base64,{png}" alt="scaling plot of {e(sid)}">'
                f"<figcaption>mean over seeds, least-squares power law on log-log axes</figcaption></figure>"
            )
    parts.append("</section>")
    return "\n".join(parts)
