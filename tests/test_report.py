"""The HTML run report: self-contained, every figure embedded, the run's own numbers in its tables."""

import base64
import json
from html.parser import HTMLParser

import pytest

from torchrbm.cli import main
from torchrbm.report import render_report


class _Page(HTMLParser):
    def __init__(self):
        super().__init__()
        self.images, self.links, self.scripts, self.cells, self._cell = [], [], 0, {}, None
        self._table = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "img":
            self.images.append(attrs["src"])
        if tag in ("a", "link"):
            self.links.append(attrs.get("href", ""))
        if tag == "script":
            self.scripts += 1
        if tag == "table":
            self._table = attrs.get("id")
            self.cells.setdefault(self._table, [])
        if tag in ("td", "th"):
            self._cell = ""

    def handle_data(self, data):
        if self._cell is not None:
            self._cell += data

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self.cells[self._table].append(self._cell)
            self._cell = None


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("report") / "run"
    assert main(["train", "--data", "bas", "--epochs", "4", "--hidden", "8", "--out", str(run_dir), "--quiet"]) == 0
    return run_dir


def test_train_writes_a_self_contained_report_with_every_figure(run):
    page = _Page()
    page.feed((run / "report.html").read_text())
    pngs = sorted(run.glob("*.png"))
    assert len(page.images) == len(pngs) == 4
    for src in page.images:
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    assert not page.links and not page.scripts and "http" not in "".join(page.images)


def test_report_tables_hold_the_runs_numbers(run):
    page = _Page()
    page.feed(render_report(run))
    summary = json.loads((run / "summary.json").read_text())
    assert f"{summary['exact']['log_likelihood']:.6g}" in page.cells["results"]
    assert "exact enumeration" in page.cells["results"]
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert f"{records[-1]['recon_error']:.6g}" in page.cells["metrics"]
    assert len(page.cells["metrics"]) == 5 * (len(records) + 1)  # epoch, recon, lr, momentum, time; header


def test_report_command_and_its_errors(run, tmp_path, capsys):
    (run / "report.html").unlink()
    assert main(["report", str(run)]) == 0
    assert (run / "report.html").is_file() and "wrote" in capsys.readouterr().out
    assert main(["report", str(tmp_path)]) == 2
    assert "not a torchrbm run directory" in capsys.readouterr().err
