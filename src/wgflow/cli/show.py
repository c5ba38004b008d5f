"""Text the CLI prints about experiments and runs: ``wgflow show NAME`` and the ``wgflow runs`` table."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from ..plotting.verdicts import tally
from ..report.numbers import fmt, fmt_duration
from .described import run_overrides

__all__ = ["show_experiment", "latest_run_dict", "runs_table"]


def _value(v: Any) -> str:
    return fmt(v, digits=6, max_len=40) if not isinstance(v, str) else v


def show_experiment(d: dict[str, Any], store=None) -> str:
    """Everything a user needs before running an experiment: what it tests, its config keys and presets,
    its claims; ``d`` is its description (:func:`~wgflow.cli.described.described`)."""
    lines = [f"{d['name']}: {d['title']}", f"reference: {d['reference']}"]
    summary = d.get("summary") or ""
    if summary:
        lines += ["", summary]
    rows = [
        (
            f["name"],
            f["type"],
            _value(f["default"]),
            (f["domain"] or "-").replace("2147483647", "2^31-1"),
            f["description"] or "",
        )
        for f in d["config"]
    ]
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(("key", "type", "default", "domain"))]
    lines += [
        "",
        "config (`--set KEY=VALUE`; defaults are the quick preset):",
        "  " + "  ".join(h.ljust(w) for h, w in zip(("key", "type", "default", "domain"), widths)),
    ]
    for r in rows:
        lines.append(
            ("  " + "  ".join(c.ljust(w) for c, w in zip(r[:4], widths)) + ("  # " + r[4] if r[4] else "")).rstrip()
        )
    lines += ["", "presets (`--quick` / `--full`):"]
    for name, values in d["presets"].items():
        text = ", ".join(f"{k}={_value(v)}" for k, v in values.items()) or "the defaults above"
        lines.append(f"  {name}: {text}")
    lines += ["", *_claims_lines(d["name"], d["reference"], store)]
    return "\n".join(lines)


def latest_run_dict(name: str, store) -> dict[str, Any] | None:
    """The latest completed, trained run of experiment ``name`` with its claims (None without one)."""
    run = _latest_run(name, store)
    if run is None:
        return None
    return {k: run[k] for k in ("run_id", "preset", "seed")} | {"claims": store.claims(run["run_id"])}


def _latest_run(name: str, store) -> dict[str, Any] | None:
    """The latest completed, trained run of experiment ``name`` in ``store`` (None without one)."""
    if store is None:
        return None
    done = [r for r in store.runs(name) if r["status"] == "completed" and not r.get("untrained")]
    return max(done, key=lambda r: r["started_at"] or 0, default=None)


def _claims_lines(name: str, reference: str, store) -> list[str]:
    run = _latest_run(name, store)
    if run is None:
        return [
            "claims: recorded by a run (none in the store yet); every claim cites its source, by default "
            f"{reference}. Run `wgflow run {name}` to measure them."
        ]
    claims = store.claims(run["run_id"])
    out = [f"claims of the latest run {run['run_id']} ({run['preset']}, seed {run['seed']}):"]
    out.append(f"  {tally(c['verdict'] for c in claims)}")
    for c in claims:
        out.append(f"  [{c['verdict'].upper()}] {c['name']}: {fmt(c['statement'], max_len=100)}")
        out.append(
            f"         measured {fmt(c['measured'], max_len=50)}{interval_text(c.get('ci'))}, expected {c['expected']}"
            + (f" ({c['method']})" if c.get("method") else "")
            + f"; source: {c.get('source') or reference}"
        )
        if c.get("null"):
            out.append(f"         {null_text(c['null'])}")
        if c.get("registration") and not c.get("registered"):
            out.append(f"         {c['registration']}")
    return out


def null_text(null: dict[str, Any]) -> str:
    """A claim's null (as stored or ``Null.to_dict``): what it is, its value and interval, its verdict."""
    verdict = "passes too" if null.get("passed") else "fails"
    return (
        f"null ({null['description']}): {fmt(null.get('measured'), max_len=40)}{interval_text(null.get('ci'))}, "
        f"{verdict}"
    )


def interval_text(ci) -> str:
    """`` [lo, hi]`` of a claim's interval, or nothing."""
    return f" [{fmt(ci[0])}, {fmt(ci[1])}]" if ci else ""


def _overrides_text(run: dict[str, Any], width: int = 36) -> str:
    ov = run_overrides(run)
    if ov is None:
        return "?"
    text = " ".join(f"{k}={_value(tuple(v) if isinstance(v, list) else v)}" for k, v in ov.items()) or "-"
    return text if len(text) <= width else text[: width - 1] + "…"


def runs_table(runs: Sequence[dict[str, Any]]) -> list[str]:
    """One line per run: id, experiment, preset, seed, status, claims (evidence/passed/all), overrides,
    sweep, time, start."""
    head = (
        f"{'run_id':<26} {'experiment':<22} {'preset':<6} {'seed':>5} {'status':<11} {'ev/ok/n':>9} "
        f"{'overrides':<36} {'sweep':<14} {'time':>9}  started"
    )
    out = [head]
    for r in runs:
        started = time.strftime("%Y-%m-%d %H:%M", time.localtime(r["started_at"]))
        claims = f"{r.get('n_evidence', 0)}/{r['n_passed']}/{r['n_claims']}" if r["n_claims"] else "-"
        preset = str(r["preset"]) + ("*" if r.get("untrained") else "")
        sweep = str(r.get("sweep_id") or "-")[:14]
        out.append(
            f"{r['run_id']:<26} {r['experiment']:<22} {preset:<6} {r['seed']:>5} {r['shown']:<11} "
            f"{claims:>9} {_overrides_text(r):<36} {sweep:<14} {fmt_duration(r['duration_s'] or 0):>9}  "
            f"{started}"
        )
    if any(r.get("untrained") for r in runs):
        out.append("(* untrained negative control: training switched off, no claim should pass)")
    return out
