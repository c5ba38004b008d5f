"""The experiment pages: one per registered experiment, built by a directive from the registry."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

from docutils import nodes
from docutils.statemachine import StringList
from docutils.utils import Reporter
from sphinx import addnodes
from sphinx.util.docutils import SphinxDirective

from .text import escape_bars, heading, write


def experiment_pages(outdir: Path) -> list[str]:
    """Write ``outdir/index.rst`` and one ``outdir/<name>.rst`` per registered experiment; return the names."""
    from wgflow.harness import list_experiments

    names = [exp.name for exp in list_experiments()]
    for name in names:
        write(outdir / f"{name}.rst", f".. wgflow-experiment:: {name}\n")
    for stale in outdir.glob("*.rst"):
        if stale.stem not in names and stale.name != "index.rst":
            stale.unlink()
    index = [
        heading("Experiments"),
        "Every reproduced result, as the registry lists it (``wgflow list``): its source, what it shows and",
        "its pre-registered claims, each with the rule, the null, the interval method and the reason fixed",
        "before the run (``registration.toml`` beside the experiment's module).",
        "",
        ".. wgflow-experiment-index::",
        "",
        ".. toctree::",
        "   :hidden:",
        "",
        *(f"   {name}" for name in names),
        "",
    ]
    write(outdir / "index.rst", "\n".join(index))
    return names


class _Collecting(Reporter):
    """A reporter that records every message and prints none."""

    def __init__(self, source: str) -> None:
        super().__init__(source, report_level=Reporter.SEVERE_LEVEL + 1, halt_level=Reporter.SEVERE_LEVEL + 1)
        self.worst = 0

    def system_message(self, level: int, message: str, *children: Any, **kwargs: Any) -> nodes.system_message:
        self.worst = max(self.worst, level)
        return super().system_message(level, message, *children, **kwargs)


class ExperimentDirective(SphinxDirective):
    """``.. wgflow-experiment:: NAME``: the page of one registered experiment."""

    required_arguments = 1
    has_content = False

    def rst_or_literal(self, text: str, source: str) -> list[nodes.Node]:
        """``text`` parsed as reST, or as a literal block when its reST warns."""
        memo, document = self.state.memo, self.state.document
        saved, quiet = (memo.reporter, document.reporter), _Collecting(source)
        memo.reporter = document.reporter = quiet  # the block parser reports to the first, inline markup to the second
        try:
            box = nodes.container()
            lines = escape_bars(inspect.cleandoc(text).splitlines())
            self.state.nested_parse(StringList(lines, source=source), 0, box)
        finally:
            memo.reporter, document.reporter = saved
        # |x| reads as a substitution that nothing defines: plain text written for the terminal, not reST
        unclean = (nodes.system_message, nodes.substitution_reference, nodes.problematic)
        if quiet.worst >= Reporter.WARNING_LEVEL or any(box.findall(lambda n: isinstance(n, unclean))):
            return [nodes.literal_block(text, inspect.cleandoc(text))]
        for ref in box.findall(addnodes.pending_xref):
            if "refspecific" in ref:
                del ref["refspecific"]  # a name resolves exactly or stays plain text, never to a guess
        return list(box.children)

    def run(self) -> list[nodes.Node]:
        from wgflow.harness import get_experiment
        from wgflow.harness.registration import load

        exp = get_experiment(self.arguments[0])
        section = nodes.section(ids=[nodes.make_id(f"experiment-{exp.name}")])
        section += nodes.title(text=f"{exp.name}: {exp.title}")
        section += nodes.paragraph("", "", nodes.strong(text="Source: "), nodes.Text(exp.reference))
        module = type.__getattribute__(exp, "__module__")
        section += nodes.paragraph(
            "", "", nodes.strong(text="Run: "), nodes.literal(text=f"wgflow run {exp.name}"),
            nodes.Text(" (module "), nodes.literal(text=module), nodes.Text(")"),
        )  # fmt: skip
        section += self.rst_or_literal(exp.description, f"{module} (description)")

        claims = nodes.section(ids=[nodes.make_id(f"experiment-{exp.name}-claims")])
        claims += nodes.title(text="Pre-registered claims")
        reg = load(exp)
        if reg is None or not reg.claims:
            claims += nodes.paragraph(text="No claims are pre-registered yet (no registration.toml).")
        else:
            claims += nodes.paragraph(
                "", "", nodes.Text(f"{len(reg.claims)} claim(s), from "),
                nodes.literal(text=f"{module.rsplit('.', 1)[0].replace('.', '/')}/{reg.path.name}"),
                nodes.Text(". A claim is evidence only when it passes and its null fails."),
            )  # fmt: skip
            for entry in reg.claims.values():
                claims += self.claim(exp.name, entry)
        section += claims
        return [section]

    def claim(self, experiment: str, entry: Any) -> nodes.section:
        out = nodes.section(ids=[nodes.make_id(f"claim-{experiment}-{entry.name}")])
        out += nodes.title(text=entry.name)
        fields = nodes.field_list()

        def field(name: str, *body: nodes.Node) -> None:
            fields.append(nodes.field("", nodes.field_name(text=name), nodes.field_body("", *body)))

        def text(value: Any) -> nodes.paragraph:
            return nodes.paragraph(text=str(value))

        def literal(value: Any) -> nodes.paragraph:
            return nodes.paragraph("", "", nodes.literal(text=str(value)))

        if entry.statement:
            field("statement", *self.rst_or_literal(entry.statement, f"{experiment}: {entry.name} (statement)"))
        field("rule", literal(entry.rule))
        field("null", text(entry.null))
        field("method", literal(entry.method))
        if entry.keys:
            field("keys", literal(", ".join(f"{k} = {v!r}" for k, v in entry.keys.items())))
        if entry.design:
            field("design", literal(", ".join(f"{k} = {v!r}" for k, v in entry.design.items())))
        if entry.replaces:
            field("replaces", literal(entry.replaces))
        field("registered", text(entry.date))
        field("reason", *self.rst_or_literal(entry.reason, f"{experiment}: {entry.name} (reason)"))
        out += fields
        return out


class ExperimentIndexDirective(SphinxDirective):
    """``.. wgflow-experiment-index::``: a table of the registered experiments, linked to their pages."""

    has_content = False

    def run(self) -> list[nodes.Node]:
        from wgflow.harness import list_experiments
        from wgflow.harness.registration import load

        header = ("experiment", "what it shows", "source", "registered claims")
        rows = []
        for exp in list_experiments():
            reg = load(exp)
            link = addnodes.pending_xref(
                "", nodes.literal(text=exp.name), refdomain="std", reftype="doc", reftarget=exp.name, refexplicit=True
            )
            link["refdoc"] = self.env.docname
            rows.append(
                (link, nodes.Text(exp.title), nodes.Text(exp.reference), nodes.Text(str(len(reg.claims) if reg else 0)))
            )
        table = nodes.table()
        group = nodes.tgroup(cols=len(header))
        table += group
        for width in (18, 42, 30, 10):
            group += nodes.colspec(colwidth=width)
        head, body = nodes.thead(), nodes.tbody()
        group += head
        group += body
        head += nodes.row("", *(nodes.entry("", nodes.paragraph(text=h)) for h in header))
        for cells in rows:
            body += nodes.row("", *(nodes.entry("", nodes.paragraph("", "", c)) for c in cells))
        return [table]
