"""Sphinx extension of the wgflow docs: pages generated at build time from the package itself.

* ``experiments/``: one page per registered experiment (:func:`wgflow.harness.list_experiments`), its
  title, source, description and pre-registered claims (:func:`wgflow.harness.registration.load`);
  the page holds one ``wgflow-experiment`` directive, which builds the nodes from the registry (no reST
  is assembled from strings, so no field of a claim can break the page);
* ``api/``: one page per public package, its docstring, a table of its public names and the
  ``automodule`` of each of its modules, every object documented once, in the module defining it.

The experiment packages are left out of ``api/``: their generated pages describe them. A description
(or a claim's reason) whose reST does not parse cleanly is shown as a literal block instead; the
experiments index (``wgflow-experiment-index``) is a table built from the registry too.

Docstrings are written to read in a terminal as well; two of their habits are translated for reST when
autodoc reads them: ``|x|`` in prose (a norm, not a substitution) and numbered references whose entries
continue on indented lines (POT's style).
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from pathlib import Path
from typing import Any

from docutils import nodes
from docutils.statemachine import StringList
from docutils.utils import Reporter
from sphinx import addnodes
from sphinx.util.docutils import SphinxDirective

#: the public packages and modules of the API reference, in the order of the README's layout table
API_PACKAGES = [
    "wgflow",
    "wgflow.measures",
    "wgflow.objectives",
    "wgflow.tasks",
    "wgflow.flows",
    "wgflow.transport",
    "wgflow.limits",
    "wgflow.residual",
    "wgflow.stats",
    "wgflow.domains",
    "wgflow.control",
    "wgflow.errors",
    "wgflow.plotting",
    "wgflow.store",
    "wgflow.harness",
    "wgflow.interop",
    "wgflow.report",
    "wgflow.parallel",
    "wgflow.cli",
]


# --------------------------------------------------------------------------- page files
def _write(path: Path, text: str) -> None:
    """Write ``text`` unless the file already holds it (an unchanged page is not rebuilt)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.is_file() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")


def _heading(text: str, char: str = "=") -> str:
    return f"{text}\n{char * len(text)}\n"


def experiment_pages(outdir: Path) -> list[str]:
    """Write ``outdir/index.rst`` and one ``outdir/<name>.rst`` per registered experiment; return the names."""
    from wgflow.harness import list_experiments

    names = [exp.name for exp in list_experiments()]
    for name in names:
        _write(outdir / f"{name}.rst", f".. wgflow-experiment:: {name}\n")
    for stale in outdir.glob("*.rst"):
        if stale.stem not in names and stale.name != "index.rst":
            stale.unlink()
    index = [
        _heading("Experiments"),
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
    _write(outdir / "index.rst", "\n".join(index))
    return names


def _is_public_module(name: str) -> bool:
    return not any(part.startswith("_") for part in name.split("."))


def _submodules(package: str) -> list[str]:
    """The public modules of ``package`` (itself when it is a plain module), subpackages not included."""
    mod = importlib.import_module(package)
    if not hasattr(mod, "__path__"):
        return [package]
    return sorted(
        f"{package}.{info.name}"
        for info in pkgutil.iter_modules(mod.__path__)
        if not info.ispkg and _is_public_module(info.name) and info.name != "__main__"
    )


def _canonical(package: str, name: str) -> str | None:
    """Where ``package.name`` is documented: ``module.qualname`` of the object, or None (a module, data)."""
    obj = getattr(importlib.import_module(package), name)
    module = getattr(obj, "__module__", None)
    qualname = getattr(obj, "__qualname__", None)
    if inspect.ismodule(obj) or module is None or qualname is None or not module.startswith("wgflow."):
        return None
    return f"{module}.{qualname}"


def _own_members(module: str) -> list[str] | None:
    """The names ``module`` documents: those of its ``__all__`` defined in it (None: autodoc's default)."""
    mod = importlib.import_module(module)
    names = getattr(mod, "__all__", None)
    if names is None:
        return None
    own = []
    for name in names:
        obj = getattr(mod, name)
        defined_in = getattr(obj, "__module__", None)
        if inspect.ismodule(obj):
            continue
        if defined_in is None or isinstance(obj, (str, int, float, tuple, dict, list, frozenset)):
            own.append(name)  # data: documented where its __all__ lists it
        elif defined_in == module:
            own.append(name)
    return own


def _automodule(module: str) -> list[str]:
    members = _own_members(module)
    return [
        f".. automodule:: {module}",
        "   :members:" + (f" {', '.join(members)}" if members else ""),
        "   :show-inheritance:",
        "",
    ]


def _private_exports(targets: list[str], documented: set[str]) -> list[str]:
    """Directives for the exported objects defined in private modules (``wgflow._io``), each once in the site."""
    lines = []
    for target in targets:
        module, _, name = target.rpartition(".")
        if _is_public_module(module) or target in documented:
            continue
        documented.add(target)
        obj = getattr(importlib.import_module(module), name)
        kind = "autoclass" if inspect.isclass(obj) else "autofunction" if callable(obj) else "autodata"
        lines += [f".. {kind}:: {target}", *(["   :members:"] if kind == "autoclass" else []), ""]
    return lines


def api_page(package: str, documented: set[str] | None = None) -> str:
    """The reST of ``package``'s API page; ``documented`` collects the private objects already documented."""
    mod = importlib.import_module(package)
    lines = [_heading(f"``{package}``")]
    if not hasattr(mod, "__path__"):  # a plain module: its docstring, then its members
        return "\n".join(lines + _automodule(package))
    lines += [f".. automodule:: {package}", "   :no-members:", ""]
    public = [n for n in getattr(mod, "__all__", []) if n != "__version__"]
    targets = [t for t in (_canonical(package, n) for n in public) if t is not None]
    if targets:
        lines += [
            _heading("Public names", "-"),
            ".. currentmodule:: None",
            "",
            ".. autosummary::",
            "",
            *(f"   ~{t}" for t in targets),
            "",
        ]
    for module in _submodules(package) if package != "wgflow" else []:
        if _own_members(module) != []:
            lines += [_heading(f"``{module}``", "-"), *_automodule(module)]
    private = _private_exports(targets, set() if documented is None else documented)
    if private:
        lines += [_heading("Shared helpers", "-"), "Defined in a private module and exported here.", "", *private]
    return "\n".join(lines)


def api_pages(outdir: Path) -> None:
    """Write ``outdir/index.rst`` and one page per package of :data:`API_PACKAGES`."""
    documented: set[str] = set()
    for package in API_PACKAGES:
        _write(outdir / f"{package}.rst", api_page(package, documented))
    index = [
        _heading("API reference"),
        "One page per package, one package per concept (the README's layout). ``wgflow.experiments`` is",
        "described by the :doc:`experiment pages <../experiments/index>`.",
        "",
        ".. autosummary::",
        "",
        *(f"   {package}" for package in API_PACKAGES),
        "",
        ".. toctree::",
        "   :hidden:",
        "",
        *(f"   {package}" for package in API_PACKAGES),
        "",
    ]
    _write(outdir / "index.rst", "\n".join(index))


# --------------------------------------------------------------------------- plain-text bars
# wgflow's docstrings and descriptions are read in a terminal too, where |x| is a norm or an absolute
# value; in reST it would be a substitution reference. Bars in prose are escaped; maths (``.. math::``
# blocks, :math:`...`), literals and literal blocks are left as written.
_VERBATIM = re.compile(r"\.\. (math|code|code-block|sourcecode|literalinclude|doctest|testcode|parsed-literal)::")
_INLINE_KEEP = re.compile(r"(``.+?``|:[\w:.+-]+:`[^`]*`|`[^`]*`_{0,2})")


def escape_bars(lines: list[str]) -> list[str]:
    """``lines`` of reST with every ``|`` of prose escaped (``\\|``), in place and returned."""
    block_indent: int | None = None  # inside a directive or literal block opened at this indentation
    for i, line in enumerate(lines):
        stripped = line.lstrip()
        indent = len(line) - len(stripped)
        if block_indent is not None and (not stripped or indent > block_indent):
            continue
        block_indent = None
        if stripped.startswith(".. "):
            if _VERBATIM.match(stripped):
                block_indent = indent  # maths or code: its indented body is kept as written
            continue
        if stripped.endswith("::"):
            block_indent = indent  # the literal block that follows is kept as written
        if "|" in line:
            parts = _INLINE_KEEP.split(line)
            lines[i] = "".join(p if k % 2 else re.sub(r"(?<!\\)\|", r"\\|", p) for k, p in enumerate(parts))
    return lines


def references_as_paragraphs(lines: list[str]) -> list[str]:
    """Each numbered entry ``[k] ...`` of a References section as its own paragraph, in place and returned.

    The docstrings number their references POT's way, an entry's continuation lines indented; in reST that
    is a definition list cut short by the next entry. Napoleon opens the section with a rubric.
    """
    out: list[str] = []
    inside = entry = False
    for line in lines:
        stripped = line.strip()
        if stripped.startswith(".. rubric::"):
            inside = stripped == ".. rubric:: References"
        elif inside and re.match(r"\[\d+\]", stripped):
            if out and out[-1].strip():
                out.append("")
            out.append(stripped)
            entry = True
            continue
        elif entry and stripped and line[:1].isspace():
            out.append(stripped)  # a continuation line joins its entry's paragraph
            continue
        entry = entry and bool(stripped)
        out.append(line)
    lines[:] = out
    return lines


def _clean_docstring(app: Any, what: str, name: str, obj: Any, options: Any, lines: list[str]) -> None:
    references_as_paragraphs(lines)
    escape_bars(lines)


# --------------------------------------------------------------------------- the experiment directive
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


# --------------------------------------------------------------------------- set-up
def _generate(app: Any) -> None:
    if not app.config.wgflow_generate_pages:
        return
    src = Path(app.srcdir)
    experiment_pages(src / "experiments")
    api_pages(src / "api")


def setup(app: Any) -> dict[str, Any]:
    app.setup_extension("sphinx.ext.autodoc")  # its docstring event
    app.add_config_value("wgflow_generate_pages", True, "env")  # False: only the directive (the tests)
    app.add_directive("wgflow-experiment", ExperimentDirective)
    app.add_directive("wgflow-experiment-index", ExperimentIndexDirective)
    app.connect("builder-inited", _generate)
    app.connect("autodoc-process-docstring", _clean_docstring, priority=900)  # after napoleon (500)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
