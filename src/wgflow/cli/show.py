"""Text the CLI prints about experiments and runs: ``wgflow show NAME`` and the ``wgflow runs`` table."""

from __future__ import annotations

import dataclasses
import inspect
import io
import re
import time
import tokenize
from collections.abc import Sequence
from typing import Any

from ..harness import Experiment, config_to_dict, make_config
from ..plotting.verdicts import tally
from ..report.numbers import fmt, fmt_duration

__all__ = ["field_comments", "show_experiment", "experiment_dict", "run_overrides", "runs_table"]


def field_comments(config_cls: type) -> dict[str, str]:
    """The trailing ``# comment`` of each field line of a config dataclass's source ({} if unavailable)."""
    try:
        src = inspect.getsource(config_cls)
    except (OSError, TypeError):
        return {}
    out: dict[str, str] = {}
    names = {f.name for f in dataclasses.fields(config_cls)}
    try:
        for tok in tokenize.generate_tokens(io.StringIO(src).readline):
            if tok.type == tokenize.COMMENT:
                m = re.match(r"\s*(\w+)\s*:", tok.line)
                if m and m.group(1) in names and m.group(1) not in out:
                    out[m.group(1)] = tok.string.lstrip("#").strip()
    except (tokenize.TokenError, IndentationError):
        return out
    return out


def _default(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return None


def _value(v: Any) -> str:
    return fmt(v, digits=6, max_len=40) if not isinstance(v, str) else v


def _first_paragraph(text: str) -> str:
    paras = [p for p in re.split(r"\n\s*\n", (text or "").strip()) if p.strip()]
    return " ".join(paras[0].split()) if paras else ""


def show_experiment(exp: type[Experiment], store=None) -> str:
    """Everything a user needs before running ``exp``: what it tests, its config keys and presets, its claims."""
    lines = [f"{exp.name}: {exp.title}", f"reference: {exp.reference}"]
    summary = _first_paragraph(getattr(exp, "description", ""))
    if summary:
        lines += ["", summary]
    fields = dataclasses.fields(exp.Config)
    domains = getattr(exp.Config, "domains", {})
    comments = field_comments(exp.Config)
    rows = [
        (
            f.name,
            type(_default(f)).__name__ if _default(f) is not None else str(f.type),
            _value(_default(f)),
            domains[f.name].describe().replace("2147483647", "2^31-1") if f.name in domains else "-",
            comments.get(f.name, ""),
        )
        for f in fields
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
    for name, values in exp.presets.items():
        text = ", ".join(f"{k}={_value(v)}" for k, v in values.items()) or "the defaults above"
        lines.append(f"  {name}: {text}")
    lines += ["", *_claims_lines(exp, store)]
    return "\n".join(lines)


def experiment_dict(exp: type[Experiment], store=None) -> dict[str, Any]:
    """``show_experiment`` as data (``wgflow show NAME --json``): the latest run's claims are ``None``
    when no completed run of ``exp`` is stored."""
    domains = getattr(exp.Config, "domains", {})
    comments = field_comments(exp.Config)
    fields = [
        {
            "name": f.name,
            "type": type(_default(f)).__name__ if _default(f) is not None else str(f.type),
            "default": _default(f),
            "domain": domains[f.name].describe() if f.name in domains else None,
            "description": comments.get(f.name) or None,
        }
        for f in dataclasses.fields(exp.Config)
    ]
    run = _latest_run(exp, store)
    latest = None
    if run is not None:
        claims = store.claims(run["run_id"])
        latest = {k: run[k] for k in ("run_id", "preset", "seed")} | {"claims": claims}
    return {
        "name": exp.name,
        "title": exp.title,
        "reference": exp.reference,
        "description": " ".join(str(getattr(exp, "description", "")).split()),
        "config": fields,
        "presets": {name: dict(values) for name, values in exp.presets.items()},
        "latest_run": latest,
    }


def _latest_run(exp: type[Experiment], store) -> dict[str, Any] | None:
    """The latest completed, trained run of ``exp`` in ``store`` (None without one)."""
    if store is None:
        return None
    done = [r for r in store.runs(exp.name) if r["status"] == "completed" and not r.get("untrained")]
    return max(done, key=lambda r: r["started_at"] or 0, default=None)


def _claims_lines(exp: type[Experiment], store) -> list[str]:
    run = _latest_run(exp, store)
    if run is None:
        return [
            "claims: recorded by a run (none in the store yet); every claim cites its source, by default "
            f"{exp.reference}. Run `wgflow run {exp.name}` to measure them."
        ]
    claims = store.claims(run["run_id"])
    out = [f"claims of the latest run {run['run_id']} ({run['preset']}, seed {run['seed']}):"]
    out.append(f"  {tally(c['verdict'] for c in claims)}")
    for c in claims:
        out.append(f"  [{c['verdict'].upper()}] {c['name']}: {fmt(c['statement'], max_len=100)}")
        out.append(
            f"         measured {fmt(c['measured'], max_len=50)}{interval_text(c.get('ci'))}, expected {c['expected']}"
            + (f" ({c['method']})" if c.get("method") else "")
            + f"; source: {c.get('source') or exp.reference}"
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


_PRESET_CACHE: dict[tuple[str, str], dict[str, Any] | None] = {}


def run_overrides(run: dict[str, Any]) -> dict[str, Any] | None:
    """The config keys of ``run`` that differ from its preset (None: the experiment is not loadable)."""
    key = (run["experiment"], run.get("preset") or "quick")
    if key not in _PRESET_CACHE:
        try:
            _PRESET_CACHE[key] = config_to_dict(make_config(*key))
        except Exception:  # an experiment no longer registered, or an old preset: say so, do not fail the listing
            _PRESET_CACHE[key] = None
    base = _PRESET_CACHE[key]
    if base is None:
        return None
    return {k: v for k, v in (run.get("config") or {}).items() if base.get(k, object()) != v}


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
