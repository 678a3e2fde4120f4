"""The HTML run report: self-contained, every figure embedded, the run's own numbers in its tables."""

import base64
import json
import shutil
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
    assert len(page.images) == len(pngs) == 5  # curves, filters, samples, reconstructions, hidden activity
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


def test_report_opens_with_a_headline_and_shows_only_the_settings_that_apply(run):
    page = _Page()
    page.feed(render_report(run))
    summary = json.loads((run / "summary.json").read_text())
    exact = summary["exact"]
    low, high = exact["log_likelihood_interval_3sigma"]
    assert page.cells["headline"][5:] == ["exact enumeration", f"{exact['log_likelihood']:.3f}",
                                          f"{low:.3f} to {high:.3f}", "0.000",
                                          f"{exact['mean_over_rows_std_error']:.3f}"]
    assert exact["mean_over_rows_std_error"] > 0  # bas is evaluated on its 32 training rows: s/sqrt(32)
    text = (run / "report.html").read_text()
    assert "rbm with 16 bernoulli visible and 8 hidden units, trained by cd for 4 epochs on 32 rows of bas" in text
    settings = page.cells[None]
    assert "k" in settings and "n_chains" not in settings and "n_temps" not in settings and "filters" not in settings
    assert "<details><summary>Per-epoch metrics (4 epochs)</summary>" in text


def test_a_parallel_tempering_run_records_and_shows_its_swap_rates(tmp_path):
    run = tmp_path / "pt"
    assert main(["train", "--data", "bas", "--epochs", "2", "--hidden", "8", "--sampler", "pt", "--n-temps", "4",
                 "--n-chains", "10", "--out", str(run), "--quiet"]) == 0
    entry = json.loads((run / "summary.json").read_text())["pt_swap_rates"]
    assert len(entry["swap_rates"]) == 3 and all(0 <= rate <= 1 for rate in entry["swap_rates"])
    assert max(entry["betas"]) == 1.0 and len(entry["betas"]) == 4 and (run / "swap_rates.png").is_file()
    page = _Page()
    page.feed(render_report(run))
    assert "n_temps" in page.cells[None] and len(page.images) == 6


def test_report_command_and_its_errors(run, tmp_path, capsys):
    (run / "report.html").unlink()
    assert main(["report", str(run)]) == 0
    assert (run / "report.html").is_file() and "wrote" in capsys.readouterr().out
    assert main(["report", str(tmp_path)]) == 2
    assert "not a torchrbm run directory" in capsys.readouterr().err


def _headless_chromium(profile_dir):
    """Selenium driving Debian's chromium through its chromedriver, with the flags of a closed network."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    browser, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if not (browser and driver):
        pytest.skip("Debian's chromium and chromium-driver are not installed (make test installs them where "
                    "apt-get may be used)")
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--window-size=1280,4000",
                 f"--user-data-dir={profile_dir}"):
        options.add_argument(flag)
    return webdriver.Chrome(options=options, service=Service(driver))


def test_report_renders_in_headless_chromium(run, tmp_path):
    browser = _headless_chromium(tmp_path / "profile")
    try:
        browser.get((run / "report.html").as_uri())
        images = browser.execute_script(
            "return Array.from(document.images, image => [image.complete, image.naturalWidth, image.alt])")
        cells = browser.execute_script(
            "return Object.fromEntries(Array.from(document.querySelectorAll('table[id]'), table => "
            "[table.id, Array.from(table.querySelectorAll('th, td'), cell => cell.textContent.trim())]))")
        screenshot = tmp_path / "report.png"
        assert browser.save_screenshot(str(screenshot))
    finally:
        browser.quit()
    assert len(images) == len(list(run.glob("*.png"))) == 5
    assert all(complete and width > 0 for complete, width, _ in images), images
    summary = json.loads((run / "summary.json").read_text())
    assert f"{summary['exact']['log_likelihood']:.6g}" in cells["results"]
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [f"{r['recon_error']:.6g}" for r in records] == cells["metrics"][6::5]
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
