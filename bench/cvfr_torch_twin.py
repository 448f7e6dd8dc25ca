#!/usr/bin/python3
"""PyTorch twin of dynsim_bench: the same CVFR computation, written as a PyTorch user would.

    /usr/bin/python3 bench/cvfr_torch_twin.py RUN_DIR

RUN_DIR is what dynsim_bench wrote. The twin

1. rebuilds the model from dynsim's initial parameters (Psi, Lambda) and constants, runs the same
   batch for the same Euler steps and checks that the loss and the gradients with respect to the
   free columns of Psi and the free eigenvalues equal dynsim's (float32 tolerance), so both sides
   do the same work;
2. times, at every batch size and step count dynsim timed, one optimizer step (A = Psi Lambda
   Psi^-1 by a solve, forward, autograd backward, Adam) and inference (torch.no_grad);
3. prints the ratios dynsim/PyTorch and dynsim/roofline with peak memory, and writes
   RUN_DIR/results.json and RUN_DIR/results.md.
"""
import json
import os
import resource
import sys
import time

import numpy as np
import torch


def load(run, name):
    return torch.from_numpy(np.load(os.path.join(run, "twin", name + ".npy")).astype(np.float32))


class Twin:
    """dx/dt = -x + beta A f(x), f(x) = x^2/(c + x^2), A = Psi Lambda Psi^-1; state B x N."""

    def __init__(self, run, check):
        psi, lam = load(run, "psi"), load(run, "lambda").reshape(-1)
        n = psi.shape[0]
        r = n - load(run, "grad_lambda_free").numel()  # planted eigenvectors
        self.psi_planted, self.lam_planted = psi[:, :r].clone(), lam[:r].clone()
        self.psi_free = torch.nn.Parameter(psi[:, r:].clone())
        self.lam_free = torch.nn.Parameter(lam[r:].clone())
        self.targets = load(run, "activity_patterns").T.contiguous()  # K x N
        self.c, self.beta = float(load(run, "c")), float(load(run, "beta"))
        self.input_scale = check["input_scale"]
        self.initial = (self.psi_free.detach().clone(), self.lam_free.detach().clone())

    def parameters(self):
        return [self.psi_free, self.lam_free]

    def reset(self):
        with torch.no_grad():
            self.psi_free.copy_(self.initial[0])
            self.lam_free.copy_(self.initial[1])

    def coupling(self):
        psi = torch.cat([self.psi_planted, self.psi_free], 1)
        lam = torch.cat([self.lam_planted, self.lam_free])
        # A^T = Psi^-T (Psi Lambda)^T: a solve, no explicit inverse (as dynsim does)
        return torch.linalg.solve(psi.T, (psi * lam).T).T

    def f(self, x):
        x2 = x * x
        return x2 / (self.c + x2)

    def run(self, x, a_t, steps, dt):
        ba = self.beta * a_t
        for _ in range(steps):
            x = x + dt * (self.f(x) @ ba - x)
        return x

    def loss(self, inputs, labels, steps, dt):
        x = self.run(self.input_scale * inputs, self.coupling().T, steps, dt)
        d = self.f(x) - self.targets[labels]
        return (d * d).sum(1).mean()


def timed(fn, min_seconds, blocks=3):
    """One warm-up call, then `blocks` timed blocks of at least min_seconds / blocks each: the
    fastest block's time per call (as dynsim_bench measures), and the number of calls."""
    fn()
    best, calls = float("inf"), 0
    for _ in range(blocks):
        t0, reps = time.perf_counter(), 0
        while True:
            fn()
            reps += 1
            if time.perf_counter() - t0 >= min_seconds / blocks:
                break
        best = min(best, (time.perf_counter() - t0) / reps)
        calls += reps
    return best, calls


def rel_err(a, b):
    return float((a - b).abs().max() / b.abs().max())


def make_row(c, t_train, n_train, t_inf, n_inf, peak):
    return {
        "gemm": c.get("gemm", "openblas"),
        "batch": c["batch"],
        "steps": c["steps"],
        "dynsim_train_s": c["train_step_seconds"],
        "torch_train_s": t_train,
        "torch_train_reps": n_train,
        "train_speedup": t_train / c["train_step_seconds"],
        "dynsim_infer_s": c["infer_seconds"],
        "torch_infer_s": t_inf,
        "torch_infer_reps": n_inf,
        "infer_speedup": t_inf / c["infer_seconds"],
        "train_gemm_share": c["train_gemm_share"],
        "infer_gemm_share": c["infer_gemm_share"],
        "train_gemm_machine_fraction": c["train_gemm_machine_fraction"],
        "train_roofline_fraction": c["train_roofline_fraction"],
        "infer_roofline_fraction": c["infer_roofline_fraction"],
        "dynsim_peak_rss_mb": c["peak_rss_bytes"] / 1e6,
        "torch_peak_rss_mb": peak / 1e6,
    }


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    run = sys.argv[1]
    with open(os.path.join(run, "dynsim.json")) as fh:
        dyn = json.load(fh)
    with open(os.path.join(run, "twin", "check.json")) as fh:
        check = json.load(fh)
    if check["loss_plugin"] != "mse_activity" or check["reduction"] != "sum":
        sys.exit("the twin implements the mse_activity loss with reduction = \"sum\" only")
    torch.set_num_threads(dyn["threads"])
    torch.manual_seed(0)
    dt = dyn["dt"]
    model = Twin(run, check)
    inputs_all = load(run, "check_inputs").T.contiguous()  # B x N
    labels_all = load(run, "check_labels").reshape(-1).long()

    # 1. Same loss and gradients for the same parameters and batch.
    loss = model.loss(inputs_all, labels_all, check["steps"], dt)
    loss.backward()
    err = {
        "loss": abs(float(loss) - check["loss"]) / abs(check["loss"]),
        "psi_free": rel_err(model.psi_free.grad, load(run, "grad_psi_free")),
        "lambda_free": rel_err(model.lam_free.grad.reshape(-1), load(run, "grad_lambda_free").reshape(-1)),
    }
    tol = 2e-3
    ok = all(v <= tol for v in err.values())
    print(f"check (batch {check['batch']}, {check['steps']} steps): loss {float(loss):.6g} vs dynsim "
          f"{check['loss']:.6g}; max relative differences {json.dumps({k: f'{v:.1e}' for k, v in err.items()})}"
          f" -> {'same computation' if ok else 'MISMATCH'} (tolerance {tol:g})")
    # The bf16 path computes the same thing with operands rounded to bf16 (8-bit mantissa): its
    # loss and gradients against this f32 computation, at bf16's accuracy. The gradients pass
    # through Psi^-T (cond(Psi) ~ 2e5 at this init), which magnifies the rounding of dL/dA: the
    # check is the relative Frobenius error (measured 6 % on 2026-12-02) and the cosine between
    # the two gradients, not the largest entry.
    if check.get("bf16_loss") is not None:
        def frob(a, b):
            return float((a - b).norm() / b.norm())

        def cosine(a, b):
            return float((a * b).sum() / (a.norm() * b.norm()))

        g16 = {"psi_free": load(run, "bf16_grad_psi_free").reshape(-1),
               "lambda_free": load(run, "bf16_grad_lambda_free").reshape(-1)}
        g32 = {"psi_free": model.psi_free.grad.reshape(-1),
               "lambda_free": model.lam_free.grad.reshape(-1)}
        err16 = {"bf16_loss": abs(float(loss) - check["bf16_loss"]) / abs(float(loss))}
        for k in g16:
            err16["bf16_" + k] = frob(g16[k], g32[k])
        cos16 = {k: cosine(g16[k], g32[k]) for k in g16}
        tol16, min_cos = 0.1, 0.99
        ok16 = all(v <= tol16 for v in err16.values()) and all(c >= min_cos for c in cos16.values())
        print(f"check of the bf16 path: loss {check['bf16_loss']:.6g}; relative differences to f32 "
              f"{json.dumps({k: f'{v:.1e}' for k, v in err16.items()})}, gradient cosines "
              f"{json.dumps({k: f'{c:.5f}' for k, c in cos16.items()})} -> "
              f"{'same computation at bf16 accuracy' if ok16 else 'MISMATCH'} (tolerance {tol16:g}, "
              f"cosine >= {min_cos:g})")
        ok = ok and ok16
        err.update(err16)
    if not ok:
        sys.exit(1)

    # The part of an optimizer step that depends on neither B nor the steps: A from (Psi,
    # Lambda), and back from a gradient of A to the parameters (dynsim: parameters_changed and
    # finish_gradients).
    n = inputs_all.shape[1]
    g_a = torch.randn(n, n)

    def fixed_step():
        model.coupling().backward(g_a)

    t_fixed, _ = timed(fixed_step, dyn["min_seconds"] / 2)
    fixed_dyn = dyn["per_optimizer_step"]
    t_fixed_dyn = fixed_dyn["parameters_changed_seconds"] + fixed_dyn["finish_gradients_seconds"]
    print(f"per optimizer step (A and its gradient): dynsim {1e3 * t_fixed_dyn:.1f} ms, "
          f"PyTorch {1e3 * t_fixed:.1f} ms", flush=True)

    # 2. Timing, in dynsim's order of configurations, on the items dynsim timed.
    items = load(run, "timing_inputs").T.contiguous()
    item_labels = load(run, "timing_labels").reshape(-1).long()
    rows = []
    torch_times = {}  # PyTorch's figures per (B, steps): one measurement serves every backend
    for c in dyn["configs"]:
        b, steps = c["batch"], c["steps"]
        if (b, steps) in torch_times:
            t_train, n_train, t_inf, n_inf, peak = torch_times[(b, steps)]
            rows.append(make_row(c, t_train, n_train, t_inf, n_inf, peak))
            continue
        model.reset()
        opt = torch.optim.Adam(model.parameters(), lr=dyn["lr"])
        x, y = items[:b].contiguous(), item_labels[:b]

        def train_step():
            opt.zero_grad(set_to_none=True)
            model.loss(x, y, steps, dt).backward()
            opt.step()

        t_train, n_train = timed(train_step, dyn["min_seconds"])
        with torch.no_grad():
            a_t = model.coupling().T.contiguous()

            def infer():
                return model.run(model.input_scale * x, a_t, steps, dt)

            t_inf, n_inf = timed(infer, dyn["min_seconds"])
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        torch_times[(b, steps)] = (t_train, n_train, t_inf, n_inf, peak)
        row = make_row(c, t_train, n_train, t_inf, n_inf, peak)
        rows.append(row)
        print(f"B={b:4d} steps={steps:3d}: train dynsim {row['dynsim_train_s']:.4g} s, torch {t_train:.4g} s "
              f"(x{row['train_speedup']:.2f}); inference dynsim {row['dynsim_infer_s']:.4g} s, torch "
              f"{t_inf:.4g} s (x{row['infer_speedup']:.2f})", flush=True)

    # Each path against the first one named (OpenBLAS by default: the f32 path before oneDNN);
    # PyTorch runs in f32 throughout: the twin is the f32 model a PyTorch user would write.
    base = {}
    for r in rows:
        base.setdefault((r["batch"], r["steps"]), r)
    head = ("| gemm | B | steps | train s/step dynsim | PyTorch | dynsim speed-up | vs first backend "
            "| GEMM share | GEMM % of machine | of roofline "
            "| inference s dynsim | PyTorch | speed-up | vs first backend | GEMM share | of roofline "
            "| peak MB dynsim | PyTorch |")
    lines = [head, "|" + "---|" * 18]
    for r in rows:
        b0 = base[(r["batch"], r["steps"])]
        lines.append(
            f"| {r['gemm']} | {r['batch']} | {r['steps']} | {r['dynsim_train_s']:.4g} | {r['torch_train_s']:.4g} | "
            f"{r['train_speedup']:.2f}x | {b0['dynsim_train_s'] / r['dynsim_train_s']:.2f}x | "
            f"{100 * r['train_gemm_share']:.0f} % | {100 * r['train_gemm_machine_fraction']:.0f} % | "
            f"{100 * r['train_roofline_fraction']:.0f} % | {r['dynsim_infer_s']:.4g} | "
            f"{r['torch_infer_s']:.4g} | {r['infer_speedup']:.2f}x | "
            f"{b0['dynsim_infer_s'] / r['dynsim_infer_s']:.2f}x | "
            f"{100 * r['infer_gemm_share']:.0f} % | {100 * r['infer_roofline_fraction']:.0f} % | "
            f"{r['dynsim_peak_rss_mb']:.0f} | {r['torch_peak_rss_mb']:.0f} |")
    peak_gf = dyn["machine_peak_gflops"]
    lines += ["", f"Machine peak ({dyn['threads']} threads, register-only FMA loop): fp32 "
              f"{peak_gf['fp32']:.0f} GFLOP/s, bf16 dot products {peak_gf['bf16']:.0f} GFLOP/s."]
    for name, roof in dyn["roofline"].items():
        lines += ["", f"{name} roofline (GFLOP/s, N = %d): " % dyn["n"] + "; ".join(
            f"B={b}: A f {v['A_f_gflops']:.0f} ({100 * v['A_f_machine_fraction']:.0f} % of the machine), "
            f"A^T a {v['At_a_gflops']:.0f}, a f^T {v['a_fT_gflops']:.0f}"
            for b, v in roof.items())]
    lines += ["", f"Per optimizer step, independent of B and steps (A = Psi Lambda Psi^-1 and the map from "
              f"dL/dA back to Psi, Lambda): dynsim {1e3 * t_fixed_dyn:.1f} ms "
              f"(GEMM share {100 * fixed_dyn['gemm_share']:.0f} %), PyTorch {1e3 * t_fixed:.1f} ms."]
    lines += ["", f"{dyn['cpu']}, {dyn['threads']} threads, {dyn['blas']}; torch {torch.__version__}; "
              f"check: {json.dumps({k: float(f'{v:.1e}') for k, v in err.items()})}"]
    table = "\n".join(lines)
    print("\n" + table)
    result = {"dynsim": dyn, "torch_version": torch.__version__, "check": err, "rows": rows,
              "torch_per_optimizer_step_seconds": t_fixed}
    for name, text in (("results.json", json.dumps(result, indent=2)), ("results.md", table + "\n")):
        tmp = os.path.join(run, name + ".tmp")
        with open(tmp, "w") as fh:
            fh.write(text)
        os.replace(tmp, os.path.join(run, name))


if __name__ == "__main__":
    main()
