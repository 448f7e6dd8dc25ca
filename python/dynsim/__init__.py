"""dynsim from Python: train a scenario, load a run folder, simulate, evaluate, analyse.

    import dynsim
    run = dynsim.run("scenarios/cvfr_letters.toml", set={"train.epochs": 2})
    run.metrics["test"]["T"]["accuracy"], run.arrays["Psi"], run.history["val_accuracy"]
    paths = run.simulate(x0)          # (steps + 1, items, N)

Everything runs in dynsim's C++ host (the same code and bits as the `dynsim` command), with the
GIL released; Ctrl-C stops a run at the next batch and keeps its folder. Errors: ScenarioError
(what the CLI exits 2 for: a bad key, value, plugin or data file) and RunError (exit 1: a failure
or divergence while running). See docs/python.md.
"""

from __future__ import annotations

import csv
import json
import math
import os
import sys
import tomllib
import uuid
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np

from . import _dynsim
from ._dynsim import RunError, ScenarioError, __version__

__all__ = ["run", "load", "plugins", "validate", "Run", "ScenarioError", "RunError",
           "__version__"]

Progress = Callable[[dict], Any]


def _toml_value(v: Any) -> str:
    """A Python value as a TOML value (the right-hand side of --set)."""
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, np.ndarray):
        v = v.tolist()
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(v, (str, os.PathLike)):
        return json.dumps(os.fspath(v))  # a TOML basic string: JSON's escapes are TOML's
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, Mapping):
        return "{" + ", ".join(f"{_toml_key(k)} = {_toml_value(x)}" for k, x in v.items()) + "}"
    raise TypeError(f"cannot write {type(v).__name__} as a TOML value: {v!r}")


def _toml_key(k: str) -> str:
    return k if k.replace("_", "").replace("-", "").isalnum() else json.dumps(k)


def _toml_document(scenario: Mapping[str, Any]) -> str:
    """A scenario dict ({table: {key: value}}, lists of dicts for [[variant]]) as TOML text."""
    lines = []
    for name, body in scenario.items():
        if isinstance(body, Mapping):
            lines.append(f"[{_toml_key(name)}]")
            lines += [f"{_toml_key(k)} = {_toml_value(v)}" for k, v in body.items()]
        elif isinstance(body, (list, tuple)) and body and all(isinstance(b, Mapping) for b in body):
            for b in body:
                lines.append(f"[[{_toml_key(name)}]]")
                lines += [f"{_toml_key(k)} = {_toml_value(v)}" for k, v in b.items()]
        else:
            raise ScenarioError(f"scenario dict: '{name}' must be a table (a dict), "
                                f"not {type(body).__name__}")
        lines.append("")
    return "\n".join(lines)


def _sets(set: Mapping[str, Any] | None) -> list[str]:
    out = []
    for k, v in (set or {}).items():
        if not isinstance(k, str):
            raise ScenarioError(f"set: keys are 'TABLE.KEY' strings, not {k!r}")
        out.append(f"{k}={_toml_value(v)}")
    return out


def _call(mode: str, target: str, sets: list[str], out: str = "", name: str = "",
          progress: Progress | None = None, log_level: str = "info") -> tuple[int, str]:
    line = f"python: dynsim {mode} {target} " + " ".join(f"--set {s}" for s in sets)
    return _dynsim.execute(mode, target, sets, out, name, progress, log_level, line.strip())


class Run:
    """A run folder: what a training or simulation wrote, and the model in it."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path).resolve()
        if not (self.path / "scenario.resolved.toml").is_file():
            raise ScenarioError(f"{self.path}: not a run folder (no scenario.resolved.toml)")

    def __repr__(self) -> str:
        return f"dynsim.Run('{self.path}')"

    @property
    def scenario(self) -> dict:
        """The resolved scenario (every default filled in), as a dict."""
        with open(self.path / "scenario.resolved.toml", "rb") as f:
            return tomllib.load(f)

    @property
    def metrics(self) -> dict:
        """metrics.json: status, test accuracy, stability, wall times, ..."""
        return json.loads((self.path / "metrics.json").read_text())

    @property
    def history(self) -> dict[str, np.ndarray]:
        """The training curve, one array per column of training_history.csv."""
        f = self.path / "training_history.csv"
        if not f.is_file():
            return {}
        with open(f, newline="") as fh:
            rows = list(csv.DictReader(fh))
        if not rows:
            return {}
        return {k: np.array([float(r[k]) for r in rows]) for k in rows[0]}

    @property
    def arrays(self) -> dict[str, np.ndarray]:
        """The model's exported arrays (RUN/arrays/*.npy: Psi, Lambda, A, attractors, ...)."""
        return {p.stem: np.load(p) for p in sorted((self.path / "arrays").glob("*.npy"))}

    def simulate(self, x0, steps: int | None = None, noise: Mapping[str, Any] | None = None,
                 seed: int | None = None, state: bool = False,
                 set: Mapping[str, Any] | None = None, log_level: str = "warn") -> np.ndarray:
        """Integrates the run's model from x0 with the run's integrator and noise law.

        x0: (items, input_dim) inputs, mapped to states by the model's encode() as dataset items
        are; with state=True, (items, N) full states used as they are. steps: how many steps
        (default: the scenario's). noise: keys of the [noise] table to change, e.g.
        {"sigma": 0.2}. seed: keys the noise (default: the run's seed). set: other keys.
        Returns the states at every saved step, (saves, items, N), in the run's precision
        (saves = steps + 1 with integrator.save_every = 1).
        """
        x = np.asarray(x0, dtype=np.float64)
        if x.ndim == 1:
            x = x[None, :]
        sets = _sets(set) + _sets({f"noise.{k}": v for k, v in (noise or {}).items()})
        if seed is not None:
            sets.append(f"scenario.seed={int(seed)}")
        if steps is not None:
            integ = self.scenario.get("integrator", {})
            if "steps" in integ:
                sets.append(f"integrator.steps={int(steps)}")
            else:
                t_end = integ.get("t0", 0.0) + int(steps) * integ["dt"]
                sets.append(f"integrator.t_end={_toml_value(float(t_end))}")
        states, _times = _dynsim.simulate(str(self.path), sets, np.ascontiguousarray(x),
                                          bool(state), log_level)
        return states

    def times(self, steps: int | None = None) -> np.ndarray:
        """The times at which simulate() returns states (same steps)."""
        integ = self.scenario.get("integrator", {})
        t0, dt = integ.get("t0", 0.0), integ["dt"]
        n = steps if steps is not None else integ.get("steps") or round(
            (integ["t_end"] - t0) / dt)
        every = integ.get("save_every", 1)
        return t0 + dt * np.arange(0, n + 1, every)

    def evaluate(self, set: Mapping[str, Any] | None = None, name: str | None = None,
                 progress: Progress | None = None, log_level: str = "warn") -> dict:
        """`dynsim evaluate RUN --set ...`: evaluation.json as a dict (written to
        RUN/evaluations/<name>/)."""
        name = name or f"python-{uuid.uuid4().hex[:8]}"
        _code, folder = _call("evaluate", str(self.path), _sets(set), name=name,
                              progress=progress, log_level=log_level)
        return json.loads((Path(folder) / "evaluation.json").read_text())

    def stability(self, set: Mapping[str, Any] | None = None, log_level: str = "warn") -> dict:
        """`dynsim stability RUN`: the planted attractors' analysis as a dict."""
        _code, folder = _call("stability", str(self.path), _sets(set), log_level=log_level)
        return json.loads((Path(folder) / "stability.json").read_text())

    def resume(self, set: Mapping[str, Any] | None = None, progress: Progress | None = None,
               log_level: str = "info") -> "Run":
        """`dynsim run --resume RUN`: continues training from the last checkpoint."""
        code, folder = _call("resume", str(self.path), _sets(set), progress=progress,
                             log_level=log_level)
        return _finished(code, folder)


def _finished(code: int, folder: str) -> Run:
    r = Run(folder)
    if code != 0:
        m = json.loads((r.path / "metrics.json").read_text()) if (
            r.path / "metrics.json").is_file() else {}
        e = RunError(f"{r.path}: {m.get('stop_reason') or m.get('error') or 'run failed'}")
        e.run = r
        raise e
    return r


def run(scenario: str | os.PathLike | Mapping[str, Any], set: Mapping[str, Any] | None = None,
        seed: int | None = None, threads: int | None = None,
        out: str | os.PathLike | None = None, progress: Progress | None = None,
        log_level: str = "info", base: str | os.PathLike | None = None) -> Run:
    """`dynsim run SCENARIO --set ... --seed --threads --out`: trains (or simulates) and returns
    the run folder.

    scenario: a scenario file, or a dict {table: {key: value}} (its relative paths are taken
    from `base`, default the current directory). set: {"TABLE.KEY": value} overrides.
    progress: called with each progress record the log shows ({"kind": "batch", "epoch",
    "batch", "loss", "eta_seconds", ...} and {"kind": "epoch", "val_accuracy", ...}); set
    train.log_every_seconds to see batches more often. Raises RunError when the run diverges or
    fails (the exception's .run is the folder), ScenarioError for a bad scenario.
    """
    sets = _sets(set)
    if seed is not None:
        sets.append(f"scenario.seed={int(seed)}")
    if threads is not None:
        sets.append(f"scenario.threads={int(threads)}")
    tmp = None
    if isinstance(scenario, Mapping):
        body = dict(scenario)
        meta = dict(body.get("scenario", {}))
        meta.setdefault("name", "python")
        body["scenario"] = meta
        # Written beside `base` so that relative paths in it mean what they say.
        tmp = Path(base or os.getcwd()) / f".dynsim-{uuid.uuid4().hex[:12]}.toml"
        tmp.write_text(_toml_document(body))
        target = str(tmp)
    else:
        target = os.fspath(scenario)
    try:
        code, folder = _call("run", target, sets, out=os.fspath(out) if out else "",
                             progress=progress, log_level=log_level)
    finally:
        if tmp is not None:
            tmp.unlink(missing_ok=True)
    return _finished(code, folder)


def validate(scenario: str | os.PathLike, set: Mapping[str, Any] | None = None) -> None:
    """`dynsim validate`: raises ScenarioError when the scenario or its plugins are wrong."""
    _call("validate", os.fspath(scenario), _sets(set), log_level="warn")


def load(run_dir: str | os.PathLike) -> Run:
    """A run folder written by `dynsim run` or dynsim.run()."""
    return Run(run_dir)


def plugins(paths: list[str] | None = None) -> list[dict]:
    """The plugins on the search path (plus `paths`), each with its options."""
    return _dynsim.plugins([os.fspath(p) for p in (paths or [])])
