"""The README's Python tour runs as printed and prints what it says."""

import contextlib
import io
import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_tour_runs(tmp_path, monkeypatch):
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert blocks, "the README has no Python example"
    monkeypatch.chdir(tmp_path)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(blocks[0], "README.md", "exec"), {})
    claimed = re.search(r"# (-\d+\.\d+) nats", blocks[0]).group(1)
    assert f"{float(printed.getvalue()):.2f}" == claimed
    assert (tmp_path / "bas.safetensors").is_file()
