"""docs/python.md's code, run as written (in a scratch folder that sees the repo's scenarios)."""

import os
import re

from conftest import SOURCE


def test_python_md_runs(tmp_path, capsys):
    text = (SOURCE / "docs/python.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert len(blocks) >= 3
    (tmp_path / "scenarios").symlink_to(SOURCE / "scenarios")
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        namespace = {}
        for code in blocks:
            exec(compile(code, "docs/python.md", "exec"), namespace)
    finally:
        os.chdir(cwd)
    out = capsys.readouterr().out
    assert "refused:" in out and "epochz" in out
    assert (tmp_path / "runs/python-letters/python_trajectories.png").stat().st_size > 1000
    assert namespace["run"].metrics["test"]["T"]["accuracy"] > 0.9
