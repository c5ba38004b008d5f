"""The shared number formatter, the LaTeX-to-MathML converter and docstrings as prose."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wgflow.report.maths import to_mathml
from wgflow.report.numbers import fmt, fmt_duration
from wgflow.report.prose import inline
from wgflow.report.rest import docstring_to_html

M = "{http://www.w3.org/1998/Math/MathML}"


def test_fmt_significant_digits():
    assert fmt(4.641934848436281e-05) == "4.64e-05" and fmt(0.5) == "0.5" and fmt(-0.4431) == "-0.443"
    assert fmt(123456789) == "1.23e+08" and fmt(42) == "42" and fmt(True) == "true" and fmt(None) == "–"
    assert fmt(float("inf")) == "inf" and fmt((0.12345, 2.0)) == "[0.123, 2]"
    long = "a measured value that is a whole paragraph " * 5
    assert len(fmt(long, max_len=60)) == 60 and fmt(long, max_len=60).endswith("…") and "\n" not in fmt("a\nb")
    assert fmt_duration(42) == "42 s" and fmt_duration(185) == "3 min 05 s" and fmt_duration(3720) == "1 h 02 min"


@given(st.floats(min_value=-1e300, max_value=1e300, allow_nan=False))  # rounding 1.797e308 up overflows
def test_fmt_keeps_three_significant_digits(x):
    assert float(fmt(x)) == pytest.approx(x, rel=5e-3, abs=1e-300)


def _parse(mathml: str):
    return ET.fromstring(mathml.replace("<math", '<math xmlns="http://www.w3.org/1998/Math/MathML"', 1))


def test_mathml_structure():
    root = _parse(to_mathml(r"\frac{1}{n} \sum_{i=1}^n \delta_{\theta_i}"))
    frac = root.find(f"{M}mfrac")
    assert ["".join(c.itertext()) for c in frac] == ["1", "n"]  # each a <mrow> group
    sub_sup = root.find(f"{M}msubsup")
    assert sub_sup[0].text == "∑" and sub_sup[2].text == "n"
    assert root.find(f"{M}msub")[0].text == "δ"
    assert _parse(to_mathml(r"\tfrac12")).find(f"{M}mfrac") is not None  # short form: two digits
    assert 'mathvariant="double-struck">E<' in to_mathml(r"\mathbb{E}")
    assert "<mtext>unknowncommand</mtext>" in to_mathml(r"\unknowncommand x")  # readable, never an error


@given(st.text(max_size=40))
def test_mathml_never_raises_and_is_well_formed(tex):
    _parse(to_mathml(tex))  # arbitrary input: escaped, balanced


def test_every_experiment_docstring_renders():
    """docutils reads every built-in experiment's description as reST: none falls back to verbatim text."""
    from wgflow.harness import list_experiments

    for exp in list_experiments():
        out = docstring_to_html(exp.description)
        assert not out.startswith('<pre class="docstring">'), exp.name
        assert ".. math::" not in out and ":class:`" not in out and out.count("<math") == out.count("</math>")
        ET.fromstring(f"<div>{out.replace('&nbsp;', ' ')}</div>")  # well-formed markup


def test_prose_paragraphs_lists_roles_and_maths_by_docutils():
    doc = (
        "Title line with :math:`n^{-1/2}`, ``code``, *emphasis*, **strong** and :class:`~wgflow.flows.Trajectory`;\n"
        "the norm |x| stays a bar.\n\nClaims:\n\n- ``a``: first;\n- second\n  continued.\n\n"
        "References\n----------\n\n1. One.\n2. Two.\n\n.. math::\n\n   W_2(\\mu, \\nu) \\le 1\n\n<b>not html</b>"
    )
    out = docstring_to_html(doc)
    literal = '<span class="docutils literal">{}</span>'
    assert "<msup>" in out and literal.format("code") in out and "<em>emphasis</em>" in out
    assert "<strong>strong</strong>" in out and literal.format("Trajectory") in out and "|x|" in out
    assert out.count("<li>") == 4 and "<ol" in out and "<h4>References</h4>" in out and "continued." in out
    assert re.search(r'<math[^>]*display="block"', out) and "\\le" not in out
    assert "&lt;b&gt;not html&lt;/b&gt;" in out and ":class:" not in out
    assert inline("x <y> & z") == "x &lt;y&gt; &amp; z"


def test_markup_docutils_cannot_read_is_shown_verbatim():
    for bad in ("an `unclosed interpreted text", ".. raw:: html\n\n   <script>x</script>", "x\n\n.. nope::\n"):
        out = docstring_to_html(bad)
        assert out.startswith('<pre class="docstring">') and "<script>" not in out, bad
    assert docstring_to_html("") == ""
