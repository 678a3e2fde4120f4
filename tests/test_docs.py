"""The documentation is current: the CLI reference matches the parser, every relative link and figure exists."""

import contextlib
import importlib.util
import io
import re

import pytest
from helpers import ROOT

PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def test_cli_reference_is_generated_from_the_parser():
    spec = importlib.util.spec_from_file_location("cli_reference", ROOT / "docs" / "cli_reference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    page = module.render()
    assert page == (ROOT / "docs" / "cli.md").read_text(), "docs/cli.md is stale: run python docs/cli_reference.py"
    for option in ("--resume", "--checkpoint-every", "--tensorboard", "--method", "--mask", "run_dir"):
        assert f"`{option}" in page


@pytest.mark.parametrize("page", PAGES, ids=lambda path: path.name)
def test_relative_links_and_images_exist(page):
    targets = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text())
    local = [target for target in targets if not re.match(r"[a-z]+:", target)]
    missing = [target for target in local if not (page.parent / target).exists()]
    assert not missing, f"{page.name} links to missing files: {missing}"


def test_the_sequences_page_runs_and_prints_what_it_says(shared_data, monkeypatch):
    page = (ROOT / "docs" / "sequences.md").read_text()
    block = re.findall(r"```python\n(.*?)```", page, flags=re.S)[0]
    block = block.replace('"../shared/data/proteins/', f'"{shared_data / "proteins"}/')
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(block, "docs/sequences.md", "exec"), {})
    shape, log_likelihood, best, checks = printed.getvalue().splitlines()
    assert shape == "torch.Size([17233, 31]) 21 2682"  # as the page's comment says
    assert -80 < float(log_likelihood) < -30 and re.fullmatch(r"[A-Y-]\d+[A-Y-]", best)
    site_r, correlation_r = map(float, checks.split())
    assert site_r > 0.9 and 0.4 < correlation_r < 1  # five epochs: the page says 0.97 0.64
