"""``infolab report``: one self-contained HTML file and its Markdown twin, checked as files
and as a real browser renders them."""

from __future__ import annotations

import base64
import html
import json
import os
import re
import shutil
import subprocess
import urllib.parse
from pathlib import Path

import pytest

import experiments
from experiments import cli
from experiments.rundir.folders import OutputError
from experiments.tools.report import HTML_MARKER, MARKDOWN_MARKER, write_report

DESCRIPTION = "<b>bold?</b> | a & b"  # text that HTML and Markdown must show as it is


@pytest.fixture(scope="module")
def other_run(figured_run, tmp_path_factory) -> experiments.Run:
    """A second run of the same shapes: other learning rates, no figures, a description."""
    config = figured_run.config.model_dump(mode="json")
    config["sweep"]["train.optimizer.learning_rate"] = [0.1, 0.5]
    config.update(description=DESCRIPTION, output={**config["output"], "formats": []})
    return experiments.run(config, out=tmp_path_factory.mktemp("other") / "run")


@pytest.fixture(scope="module")
def two_run_report(figured_run, other_run, tmp_path_factory) -> Path:
    return write_report([figured_run, other_run], tmp_path_factory.mktemp("r") / "x.html")


def _tables(page: str) -> dict[str, list[list[str]]]:
    """Each table's rows of cell texts, by its class (the last table of a class wins)."""
    tables = {}
    for kind, body in re.findall(r'<table class="([^"]+)">(.*?)</table>', page, re.S):
        rows = re.findall(r"<tr>(.*?)</tr>", body, re.S)
        cells = [[html.unescape(c) for c in re.findall(r"<t[hd]>(.*?)</t[hd]>", r)] for r in rows]
        tables[kind] = cells
    return tables


def test_report_holds_config_provenance_metrics_best_and_figures(figured_run, tmp_path):
    page_path = figured_run.report(tmp_path / "one.html")
    assert page_path == tmp_path / "one.html"
    page = page_path.read_text(encoding="utf-8")
    assert HTML_MARKER in page
    # Self-contained: every image is a data URI, nothing is fetched, no script runs.
    sources = re.findall(r'src="([^"]*)"', page)
    assert sources and all(s.startswith("data:image/png;base64,") for s in sources)
    assert not re.search(r"<(link|script)\b|href=|url\(", page)
    # Every figure is embedded byte for byte, captioned with its name.
    pngs = [p for p in figured_run.figures() if p.suffix == ".png"]
    embedded = [base64.b64decode(s.split(",", 1)[1]) for s in sources]
    assert embedded == [p.read_bytes() for p in pngs]
    captions = re.findall(r"<figcaption>([^<]*)", page)
    assert [c.strip() for c in captions] == [p.stem for p in pngs]
    # The resolved config, as the run folder holds it.
    config_text = (figured_run.path / "config.yaml").read_text(encoding="utf-8")
    assert f"<pre>{html.escape(config_text)}</pre>" in page
    tables = _tables(page)
    provenance = {row[0]: row[1] for row in tables["provenance"]}
    manifest = figured_run.manifest
    assert provenance["commit"] == (manifest["git"]["sha"] or "not recorded")
    assert provenance["uncommitted changes"] in ("yes", "no", "not recorded")
    assert provenance["started (UTC)"] == manifest["start"]
    assert provenance["jax"] == manifest["versions"]["jax"]
    assert provenance["devices"].startswith(f"{manifest['devices']['count']} × ")
    # The final-metric table (test split last): a row per member, the summary's values.
    header, *rows = tables["metrics"]
    assert [r[header.index("member")] for r in rows] == [str(m) for m in figured_run.summary.member]
    ce = [float(r[header.index("ce")]) for r in rows]
    assert ce == pytest.approx(list(figured_run.summary["test/ce"]), rel=1e-5)
    # The best member per variant by the headline metric is summary.json's.
    best = json.loads((figured_run.path / "summary.json").read_text())["best"]
    header, *rows = tables["best"]
    headline = {r[2]: r[3] for r in rows if r[0] == "test/ce (headline)"}
    assert headline == {variant: str(entry["member"]) for variant, entry in best.items()}
    accuracy = [r for r in rows if r[0] == "test/accuracy"]
    assert {r[1] for r in accuracy} == {"highest"} and len(accuracy) == len(best)


def test_markdown_twin_links_figures_that_exist(figured_run, two_run_report):
    text = two_run_report.with_suffix(".md").read_text(encoding="utf-8")
    assert text.startswith(MARKDOWN_MARKER + "\n")
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    assert len(links) == len([p for p in figured_run.figures() if p.suffix == ".png"])
    for link in links:
        assert (two_run_report.parent / urllib.parse.unquote(link)).resolve().is_file()
    assert "\\<b\\>bold?\\</b\\> \\| a \\& b" in text  # shown as text, not as HTML
    row = "| sweep.train.optimizer.learning\\_rate | \\[0.1, 1.0\\] | \\[0.1, 0.5\\] |"
    assert row in text.splitlines()


def test_several_runs_show_their_config_differences(two_run_report):
    page = two_run_report.read_text(encoding="utf-8")
    differences = {row[0]: row[1:] for row in _tables(page)["config-diff"][1:]}
    assert set(differences) == {
        "description",
        "output.formats",
        "sweep.train.optimizer.learning_rate",
    }
    assert differences["sweep.train.optimizer.learning_rate"] == ["[0.1, 1.0]", "[0.1, 0.5]"]
    assert differences["description"] == ["", DESCRIPTION]
    assert DESCRIPTION not in page and html.escape(DESCRIPTION) in page
    assert page.count('<table class="provenance">') == 1
    assert page.count('<table class="metrics">') == 4  # two splits of two runs


def test_report_never_replaces_a_file_it_did_not_write(figured_run, tmp_path, capsys):
    foreign = tmp_path / "notes.html"
    foreign.write_text("<p>my notes</p>")
    with pytest.raises(OutputError, match="not written by infolab report"):
        write_report([figured_run], foreign)
    assert foreign.read_text() == "<p>my notes</p>"
    assert not foreign.with_suffix(".md").exists()
    (tmp_path / "mine.md").write_text("my notes")  # the twin's name is taken too
    assert cli.main(["report", str(figured_run.path), "--out", str(tmp_path / "mine.html")]) == 2
    assert "mine.md exists and was not written by infolab report" in capsys.readouterr().err
    # Its own report it replaces, atomically and with the same bytes.
    ours = write_report([figured_run], tmp_path / "ours.html")
    first = ours.read_bytes()
    assert write_report([figured_run], ours) == ours and ours.read_bytes() == first
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "mine.md",
        "notes.html",
        "ours.html",
        "ours.md",
    ]


def test_cli_report_default_and_bad_run_folders(figured_run, tmp_path, capsys):
    copy = tmp_path / "run"
    shutil.copytree(figured_run.path, copy)
    assert cli.main(["report", str(copy)]) == 0
    assert capsys.readouterr().out.split() == [str(copy / "report.html"), str(copy / "report.md")]
    assert (copy / "report.html").is_file()
    (copy / "summary.json").write_text("{not json")
    assert cli.main(["report", str(copy)]) == 2
    err = capsys.readouterr().err
    assert f"{copy}/summary.json: not valid JSON" in err and "Traceback" not in err
    assert cli.main(["report", str(tmp_path / "absent")]) == 2
    assert "absent: not a run folder" in capsys.readouterr().err
    assert cli.main(["report", str(figured_run.path), "--out", str(tmp_path / "r.txt")]) == 2


_CHECK = """<script>
window.addEventListener("load", () => {
  const images = Array.from(document.images);
  const result = {
    images: images.length,
    loaded: images.filter((i) => i.complete && i.naturalWidth > 0).length,
    tables: Array.from(document.querySelectorAll("table")).map((t) => t.className),
  };
  const out = document.createElement("pre");
  out.id = "render-check";
  out.textContent = JSON.stringify(result);
  document.body.appendChild(out);
});
</script>
"""


def test_report_renders_in_headless_chromium(two_run_report, tmp_path):
    browser = shutil.which("chromium")
    if browser is None:
        pytest.skip("chromium is not installed (make test installs Debian's package as root)")
    page = two_run_report.read_text(encoding="utf-8")
    checked = tmp_path / "checked.html"
    checked.write_text(page.replace("</body>", _CHECK + "</body>"), encoding="utf-8")
    done = subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--dump-dom",
            "--virtual-time-budget=5000",
            checked.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "HOME": str(tmp_path)},
        check=False,
    )
    found = re.search(r'<pre id="render-check">(.*?)</pre>', done.stdout, re.S)
    assert found, f"no check result in the rendered page; chromium said: {done.stderr[-2000:]}"
    result = json.loads(html.unescape(found.group(1)))
    assert result["images"] == page.count("<img ") > 0
    assert result["loaded"] == result["images"]
    assert {"runs", "config-diff", "provenance", "metrics", "best"} <= set(result["tables"])
