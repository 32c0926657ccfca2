"""Sessions through the package: state across cells, displays, a chart saved, close."""

from __future__ import annotations

import pytest

from agent_executor import Client, DisplayPart, ErrorCode, ExecutorError

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_state_lives_across_cells_and_the_last_expression_is_displayed(client: Client) -> None:
    with client.session(runtime="python") as s:
        first = s.run("x = 41\nprint('set')", timeout=60)
        assert first.ok and first.stdout == "set\n"
        assert first.session is not None and first.session.id == s.id and first.session.cell == 1
        assert first.started is not None and first.started.session is not None and first.started.session.cell == 1
        second = s.run("x + 1", timeout=30)
        assert second.ok and second.session is not None and second.session.cell == 2
        assert [d.text for d in second.displays] == ["42"]
    # Closed: a later cell is answered session_ended, never run without its state.
    late = s.run("x", timeout=30)
    assert late.status == "session_ended" and late.session is not None and late.session.ended == "closed"


def test_a_cell_can_be_streamed_and_interrupted_and_the_session_lives_on(client: Client) -> None:
    with client.session(runtime="python", idle_ms=60_000) as s:
        s.run("import time\ncount = 0", timeout=60)
        sub = s.submit("while True:\n    count += 1\n    time.sleep(0.01)")
        sub.wait_started(timeout=30)
        client.cancel(sub.id)
        assert sub.result(timeout=10).status == "cancelled"
        after = s.run("count > 0", timeout=30)
        assert after.ok and after.displays[0].text == "True"


def test_a_later_cell_may_not_change_what_the_session_fixed(client: Client) -> None:
    with client.session(runtime="bash") as s:
        assert s.run("A=1", timeout=60).ok
        with pytest.raises(ExecutorError, match="may only lower wall_ms, cpu_ms and output_bytes") as raised:
            s.submit("echo $A", limits={"memory_bytes": 1 << 20})
        assert raised.value.code == ErrorCode.USAGE
        assert s.run("echo $A", timeout=30).stdout == "1\n"


def test_a_chart_comes_back_as_png_and_is_saved(client: Client, tmp_path, python_with_matplotlib: bool) -> None:
    if not python_with_matplotlib:
        pytest.fail("matplotlib is missing for /usr/bin/python3 (.ci/run installs python3-matplotlib)")
    parts: list = []
    with client.session(runtime="python") as s:
        s.run("import matplotlib.pyplot as plt", timeout=60)
        result = s.run("plt.plot([1, 4, 9])\nplt.show()\nprint('drawn')", on_display=parts.append, timeout=60)
    assert result.ok, result.stderr
    assert result.stdout == "drawn\n"
    images = [d for d in result.displays if d.image is not None]
    assert len(images) == 1
    path = images[0].save(tmp_path / "chart.png")
    with open(path, "rb") as f:
        assert f.read(8) == PNG_MAGIC
    assert all(isinstance(p, DisplayPart) for p in parts) and "image/png" in {p.mime for p in parts}


def test_the_example_script_saves_a_chart(executor, tmp_path, python_with_matplotlib: bool) -> None:
    import os
    import subprocess
    import sys
    from pathlib import Path

    if not python_with_matplotlib:
        pytest.fail("matplotlib is missing for /usr/bin/python3 (.ci/run installs python3-matplotlib)")
    script = Path(__file__).resolve().parents[1] / "examples" / "chart.py"
    out = tmp_path / "squares.png"
    env = {**os.environ, "REDIS_URL": executor["url"], "EXECUTOR_STREAM": executor["stream"]}
    env.pop("REDIS_URL_FILE", None)
    done = subprocess.run([sys.executable, str(script), str(out)], env=env, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"10 points\nsaved {out}\n"
    assert out.read_bytes()[:8] == PNG_MAGIC


def test_the_readme_example_runs_as_written(executor, tmp_path, python_with_matplotlib: bool) -> None:
    # The first python block of the repository README's "From Python" section, unchanged.
    import os
    import re
    import subprocess
    import sys
    from pathlib import Path

    if not python_with_matplotlib:
        pytest.fail("matplotlib is missing for /usr/bin/python3 (.ci/run installs python3-matplotlib)")
    readme = (Path(__file__).resolve().parents[3] / "README.md").read_text()
    section = readme[readme.index("### From Python") :]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    env = {**os.environ, "REDIS_URL": executor["url"], "EXECUTOR_STREAM": executor["stream"]}
    env.pop("REDIS_URL_FILE", None)
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "ok 42\n\n"
    assert (tmp_path / "chart.png").read_bytes()[:8] == PNG_MAGIC
