"""The Python module against the CLI: same bits for the same scenario, simulate against a
[simulate] run, errors as exceptions, progress records and Ctrl-C."""

import json
import os
import signal
import threading

import numpy as np
import pytest

import dynsim
from conftest import LETTERS, SOURCE, cli


def test_version_and_plugins():
    assert dynsim.__version__ == cli("--version").stdout.strip()
    ps = {(p["kind"], p["name"]): p for p in dynsim.plugins()}
    hill = ps[("model", "cvfr_hill")]
    assert hill["file"].endswith("dynsim_cvfr_hill.so")
    assert any(o["name"] == "lambda" for o in hill["options"])
    assert ("dataset", "letters") in ps and ("loss", "mse_state") in ps


def test_training_has_the_cli_bits(letters_runs):
    cli_dir, run, _ = letters_runs
    ref = dynsim.load(cli_dir)
    assert run.metrics["status"] == "ok" and ref.metrics["status"] == "ok"
    arrays, ref_arrays = run.arrays, ref.arrays
    assert set(arrays) == set(ref_arrays) and {"A", "attractors"} <= set(arrays)
    for name in arrays:
        assert arrays[name].dtype == ref_arrays[name].dtype
        assert np.array_equal(arrays[name], ref_arrays[name]), name
    for key in ("train_loss", "val_loss", "val_accuracy", "grad_norm"):
        assert np.array_equal(run.history[key], ref.history[key]), key
    assert len(run.history["epoch"]) == 2
    m, r = run.metrics, ref.metrics
    assert m["test"]["T"] == r["test"]["T"]
    assert m["best_val_accuracy"] == r["best_val_accuracy"]
    assert m["stability"]["attractors"] == r["stability"]["attractors"]


def test_progress_records(letters_runs):
    _, run, records = letters_runs
    epochs = [r for r in records if r["kind"] == "epoch"]
    batches = [r for r in records if r["kind"] == "batch"]
    assert [r["epoch"] for r in epochs] == [1, 2]
    assert [r["val_accuracy"] for r in epochs] == list(run.history["val_accuracy"])
    # train.log_every_seconds = 0: every batch is reported, with the log line's fields.
    assert len(batches) == 2 * batches[0]["batches"]
    assert {"epoch", "epochs", "batch", "batches", "loss", "eta_seconds"} <= set(batches[0])
    assert batches[-1]["eta_seconds"] == 0


def test_simulate_matches_a_simulate_run(tmp_path):
    # linear_ou: Euler-Maruyama, 20 noise paths, states saved every 10 steps.
    cli("run", SOURCE / "scenarios/linear_ou.toml", "--out", tmp_path / "ou")
    ref = np.load(tmp_path / "ou/trajectory.npy")  # (paths, saves, items, N)
    run = dynsim.load(tmp_path / "ou")
    x = run.simulate([[1.0, 1.0, 1.0]])
    assert x.shape == ref.shape[1:] and x.dtype == ref.dtype
    assert np.array_equal(x, ref[0])
    assert np.allclose(run.times(), np.load(tmp_path / "ou/times.npy"))
    # Another seed draws other noise; state=True takes full states.
    assert not np.array_equal(run.simulate([[1.0, 1.0, 1.0]], seed=8), x)
    y = run.simulate(np.array([[1.0, 1.0, 1.0]]), state=True, steps=20)
    assert y.shape == (3, 1, 3)  # steps 0, 10, 20
    assert np.array_equal(y, x[:3])


def test_simulate_trained_model(letters_runs):
    cli_dir, run, _ = letters_runs
    x0 = np.random.default_rng(0).uniform(size=(5, 49))
    traj = run.simulate(x0, steps=30)
    assert traj.shape == (31, 5, 49) and traj.dtype == np.float64
    assert np.array_equal(traj, dynsim.load(cli_dir).simulate(x0, steps=30))
    # The start is the model's encode(): inputs scaled by input_scale (1.5 in the scenario).
    assert np.allclose(traj[0], 1.5 * x0)


def test_evaluate_and_stability(letters_runs):
    _, run, _ = letters_runs
    ev = run.evaluate(set={"evaluate.max_items": 200, "evaluate.horizon": 1}, name="py")
    assert ev["T"]["items"] == 200 and 0.5 < ev["T"]["accuracy"] <= 1
    assert (run.path / "evaluations/py/evaluation.json").is_file()
    st = run.stability()
    assert len(st["attractors"]) == 3 and "all_stable" in st


def test_bad_key_raises_scenario_error(tmp_path):
    with pytest.raises(dynsim.ScenarioError, match="epochz"):
        dynsim.run(LETTERS, set={"train.epochz": 2}, out=tmp_path / "bad")
    with pytest.raises(dynsim.ScenarioError, match="dt"):
        dynsim.run(LETTERS, set={"integrator.dt": float("inf")}, out=tmp_path / "bad2")
    with pytest.raises(dynsim.ScenarioError, match="not a run folder"):
        dynsim.load(tmp_path)
    assert issubclass(dynsim.ScenarioError, ValueError)
    assert issubclass(dynsim.RunError, RuntimeError)


def test_dict_scenario_is_the_file(tmp_path):
    import tomllib

    with open(SOURCE / "scenarios/linear_ou.toml", "rb") as f:
        sc = tomllib.load(f)
    sc["simulate"]["paths"] = 2
    run = dynsim.run(sc, out=tmp_path / "dict", log_level="warn")
    ref = cli("run", SOURCE / "scenarios/linear_ou.toml", "--set", "simulate.paths=2", "--out",
              tmp_path / "file")
    assert ref.returncode == 0
    assert np.array_equal(np.load(run.path / "trajectory.npy"),
                          np.load(tmp_path / "file/trajectory.npy"))
    assert not list(tmp_path.glob(".dynsim-*.toml")) and not list(
        __import__("pathlib").Path.cwd().glob(".dynsim-*.toml"))


def test_exception_in_progress_stops_the_run(tmp_path):
    class Stop(Exception):
        pass

    def progress(r):
        if r["kind"] == "batch" and r["batch"] == 3:
            raise Stop()

    with pytest.raises(Stop):
        dynsim.run(LETTERS, set={"train.log_every_seconds": 0, "train.clip_norm": 20}, threads=1,
                   out=tmp_path / "stopped", progress=progress, log_level="error")
    m = json.loads((tmp_path / "stopped/metrics.json").read_text())
    assert m["status"] == "interrupted"
    assert (tmp_path / "stopped/scenario.resolved.toml").is_file()


def test_ctrl_c_raises_keyboard_interrupt(tmp_path):
    # SIGINT from another thread while dynsim trains without the GIL: the run stops at the next
    # batch, the folder stays, and Python sees KeyboardInterrupt.
    timer = threading.Timer(1.0, lambda: os.kill(os.getpid(), signal.SIGINT))
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            dynsim.run(LETTERS, set={"train.clip_norm": 20}, threads=1, out=tmp_path / "ctrl-c",
                       log_level="error")
    finally:
        timer.cancel()
    m = json.loads((tmp_path / "ctrl-c/metrics.json").read_text())
    assert m["status"] == "interrupted"


def test_diverged_run_raises_run_error(tmp_path):
    with pytest.raises(dynsim.RunError) as e:
        dynsim.run(LETTERS, set={"train.lr": 1e6, "train.epochs": 1}, threads=1,
                   out=tmp_path / "div", log_level="error")
    assert e.value.run.path == (tmp_path / "div").resolve()
    assert e.value.run.metrics["status"] == "diverged"
