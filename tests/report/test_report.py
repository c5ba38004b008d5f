"""The HTML report: self-contained, escaped, right counts; and in a real headless Chromium."""

from __future__ import annotations

import os
import re
import shutil
import tempfile

import pytest

from wgflow.harness.runner import execute
from wgflow.report import render_report, write_report

EVIL = "<script>alert('x')</script>&\"'"


@pytest.fixture
def report_store(store):
    execute("fake-machinery", "quick", {"label": EVIL, "steps": 12}, seed=1, store=store, quiet=True)
    execute("fake-machinery", "full", {"label": EVIL}, seed=2, store=store, quiet=True)
    execute("fake-machinery", "quick", {"mode": "diverge"}, store=store, quiet=True)  # newest, but failed
    return store


def test_report_is_self_contained_escaped_and_counts_claims(report_store, tmp_path):
    html = render_report(report_store)
    assert "<script" not in html.lower()  # neither our scripts nor injected ones
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in html
    assert "<b>(fails)</b>" not in html and "&lt;b&gt;(fails)&lt;/b&gt;" in html
    # one section per experiment: the newest *completed* run of fake-machinery (seed 2, full)
    assert html.count('<section class="experiment"') == 1 and "full, seed 2" in html
    assert re.search(r'<table class="claims" data-claims="2" data-passed="1" data-evidence="0">', html)
    assert html.count('<tr class="claim pass">') == 1 and html.count('<tr class="claim fail">') == 1
    assert 'data-runs="3"' in html and html.count("<img ") == 1 and 'src="data:image/png;base64,' in html
    assert 'src="http' not in html and 'href="http' not in html  # nothing fetched from elsewhere
    for needed in ("Nobody &amp; Nobody, 2026", "numpy", "wall time", "smaller step size"):
        assert needed in html
    # prose and maths, not a raw docstring; the caption is the experiment's statement
    # (docutils: the math directive as MathML; a power written in prose stays as written)
    assert re.search(r'<math [^>]*display="block"', html) and "<munderover>" in html and "rate n^{-1/2}." in html
    assert '<pre class="docstring' not in html
    assert "The sum grows linearly in the steps</figcaption>" in html
    assert html.count('class="other-runs"') == 1 and 'href="#runs"' in html


def test_written_report_links_figures_and_run_pages(report_store, tmp_path):
    path = write_report(report_store, tmp_path / "out" / "r.html")
    page = path.read_text(encoding="utf-8")
    assert path.is_absolute() and "data:image" not in page and len(page) < 200_000
    files = tmp_path / "out" / "r_files"
    figs = re.findall(r'<img src="([^"]+)"', page)
    assert figs and all(f.startswith("r_files/figures/") and (tmp_path / "out" / f).is_file() for f in figs)
    runs = report_store.runs()
    for r in runs:  # one page per run, linked from the index
        assert (files / "runs" / f"{r['run_id']}.html").is_file()
        assert f'href="r_files/runs/{r["run_id"]}.html"' in page
    run_page = (files / "runs" / f"{runs[-1]['run_id']}.html").read_text()
    assert 'href="../../r.html"' in run_page


def test_the_report_says_what_the_store_recorded_not_what_the_registry_holds(report_store, fake_experiment):
    from wgflow.harness import contract

    del contract._REGISTRY[fake_experiment.name]  # the report needs no registry (the fixture's pop is then a no-op)
    html = render_report(report_store)
    assert "Fake experiment &lt;for&gt; the machinery tests" in html and "Nobody &amp; Nobody, 2026" in html
    assert re.search(r'<math [^>]*display="block"', html)  # the description
    assert "The sum grows linearly in the steps</figcaption>" in html


def test_a_run_that_recorded_nothing_about_its_experiment_shows_its_name(store):
    rid = store.create_run("old-experiment", {"n": 1}, 0, preset="quick")
    store.complete_run(rid, [], [("final", None, 1.0)])
    html = render_report(store)
    assert '<section class="experiment" id="exp-old-experiment">' in html
    assert "<h2>old-experiment: old-experiment</h2>" in html and "Reference:" not in html


def test_empty_store_report(store):
    assert "No runs in this store yet" in render_report(store)


def _chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path, shutil.which("chromedriver")
    return None, shutil.which("chromedriver")


@pytest.mark.browser
def test_report_in_headless_chromium(report_store, tmp_path):
    browser, driver_path = _chromium()
    if not (browser and driver_path):
        if os.environ.get("CI"):
            pytest.fail(
                "CI is set but chromium/chromedriver are missing (install: apt-get install chromium "
                "chromium-driver, or `make browser`)"
            )
        pytest.skip("chromium and chromedriver not installed")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    path = write_report(report_store, tmp_path / "report.html")
    opts = webdriver.ChromeOptions()
    opts.binary_location = browser
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={tempfile.mkdtemp(prefix='chromium-', dir=tmp_path)}",
    ):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(driver_path), options=opts)
    try:
        driver.set_page_load_timeout(30)
        driver.get(path.as_uri())
        assert driver.title == "wgflow report"
        severe = [m for m in driver.get_log("browser") if m["level"] == "SEVERE"]
        assert severe == []
        counts = driver.execute_script(
            "const t = document.querySelectorAll('table.claims');"
            "return [t.length, document.querySelectorAll('table.claims tbody tr').length,"
            " document.querySelectorAll('table.claims tr.pass').length, t[0].dataset.claims, t[0].dataset.passed,"
            " document.querySelectorAll('table.runs tbody tr').length];"
        )
        assert counts == [1, 2, 1, "2", "1", 3]
        images = driver.execute_script("return Array.from(document.images).map(i => [i.complete, i.naturalWidth]);")
        assert len(images) == 1 and all(ok and w > 0 for ok, w in images)
        assert driver.execute_script("return document.querySelectorAll('script').length") == 0
        # maths is laid out as MathML (a fraction has height; the block equation is displayed)
        box = driver.execute_script(
            "const m = document.querySelector('math[display=block]');"
            "const f = m.querySelector('mfrac').getBoundingClientRect();"
            "return [m.getBoundingClientRect().width, f.height];"
        )
        assert box[0] > 50 and box[1] > 10
        _check_links(driver, path)
    finally:
        driver.quit()


def _check_links(driver, index_path):
    """Every link of the report and of every run page resolves: anchors exist, pages load, images load."""
    from urllib.parse import urldefrag

    pages, seen, anchors = [index_path.as_uri()], set(), set()
    while pages:
        url = pages.pop()
        if url in seen:
            continue
        seen.add(url)
        driver.get(url)
        assert [m for m in driver.get_log("browser") if m["level"] == "SEVERE"] == [], url
        assert driver.execute_script("return Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)")
        for href in driver.execute_script("return Array.from(document.links).map(a => a.href)"):
            target, frag = urldefrag(href)
            assert target.startswith("file://"), href
            if target.endswith(".html"):
                pages.append(target)
            if frag:
                anchors.add((target, frag))
    for target, frag in sorted(anchors):  # every #fragment names an element of its page
        if driver.current_url.split("#")[0] != target:
            driver.get(target)
        assert driver.execute_script("return document.getElementById(arguments[0]) !== null", frag), (target, frag)
    run_pages = [u for u in seen if "/runs/" in u]
    assert len(run_pages) == 3  # every run reachable
