"""Smoke test: every script in examples/ runs to completion and prints its results.

Each script runs as a user would run it (``python examples/<name>.py``, no
arguments) in a fresh interpreter, from an empty temporary directory, with a
non-interactive matplotlib backend and TMPDIR pointing into that directory so
that figures and temporary files never land in the working tree. New scripts
are picked up by the glob; give them an entry in EXPECTED_OUTPUT.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES_DIR = Path(__file__).resolve().parent.parent / "examples"
EXAMPLES = sorted(EXAMPLES_DIR.glob("*.py"))

# A line each script prints once it has computed its results.
EXPECTED_OUTPUT = {
    "column_transformer.py": "Columns: ['text__maskedautoencoderembedder0'",
    "copurchase.py": "TripletEmbedder fine-tuned with pairs",
    "grid_search.py": "Best parameters: {",
    "out_of_core.py": "Test precision@10",
    "plot_embeddings.py": "Saved figure to",
    "pretrain_finetune.py": "TripletEmbedder fine-tuned, 5% labels",
    "quickstart.py": "Precision@10",
}

# Generous: the scripts take a few seconds each, but the test machine may be
# busy with other jobs.
TIMEOUT_SECONDS = 180

# One BLAS thread per script. The embedders multiply small matrices (a
# minibatch by a layer); on a busy 2-core machine OpenBLAS's worker threads
# spin against each other and against other jobs, which measured 2-4 times
# slower and took twice the CPU time of a single thread for these examples.
SINGLE_THREADED_BLAS = {
    name: "1" for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
}


def test_examples_are_found():
    assert EXAMPLES, f"no example scripts in {EXAMPLES_DIR}"


@pytest.mark.parametrize("script", EXAMPLES, ids=[path.name for path in EXAMPLES])
def test_example_runs(script, tmp_path):
    env = {**os.environ, **SINGLE_THREADED_BLAS, "MPLBACKEND": "Agg", "TMPDIR": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_SECONDS,
    )
    assert result.returncode == 0, (
        f"{script.name} exited with {result.returncode}\n"
        f"--- stdout ---\n{result.stdout}\n--- stderr ---\n{result.stderr}"
    )
    expected = EXPECTED_OUTPUT.get(script.name)
    assert expected is not None, f"add the expected output of {script.name} to EXPECTED_OUTPUT"
    assert expected in result.stdout, (
        f"{script.name} did not print {expected!r}\n--- stdout ---\n{result.stdout}"
    )
    if script.name.startswith("plot_"):
        figures = list(tmp_path.rglob("*.png"))
        assert figures and all(path.stat().st_size > 10_000 for path in figures), (
            f"{script.name} saved no figure under {tmp_path}: {figures}"
        )
    # Examples silence the warnings they expect; anything else is news.
    assert "Warning" not in result.stderr, f"{script.name} warned:\n{result.stderr}"
