#!/usr/bin/python3
"""PyTorch twin of the authors' MNIST recipe, written from their public Keras code.

    OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 bench/cvfr_authors_twin.py OUT_DIR \
        [--seed 1] [--epochs 1] [--threads 2] [--eval-every 27] [--sigma 0]

It is the reference that `scenarios/cvfr_mnist_authors.toml` is compared with
(docs/RESULTS.md, issue 16): float32 throughout, N = 784, K = 10, c = 1/(8N), beta = 1/sqrt(N),
planted eigenvalues 1, block-off activity patterns f(x_p) with a block of 78 zeros per class,
trainable columns Orthogonal(gain 1.3) (QR of a Gaussian, as Keras' and torch's initialisers),
free eigenvalues U(-0.4, 0.4), A = Phi diag(lambda) inv(Phi) with an explicit inverse (as
tf.linalg.inv), x0 = pixel / 255, Euler dt 0.03 for 300 steps, loss = mean over items and nodes
of (f(x(T)) - psi_label)^2 plus 0.004 * mean |cos| over pairs of trainable columns (Keras'
OrthogonalRegularizer, mode 'columns'), Adam lr 0.005 with Keras' epsilon 1e-7, batch 500, the
first 54,000 training images shuffled every epoch, the last 6,000 for validation. The class is
the argmax of <f(x(T)), psi_k>. `--sigma` adds the script's damped noise (0 = deterministic).

Writes OUT_DIR/batches.csv (loss per batch) and OUT_DIR/evaluations.csv (validation, and test at
the end of each epoch).
"""
import argparse
import csv
import os
import time

import numpy as np
import torch


def idx(path):
    with open(path, "rb") as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--data", default=os.path.join(os.path.dirname(__file__), "..", "data", "mnist"))
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--eval-every", type=int, default=27, help="validate every this many batches")
    ap.add_argument("--sigma", type=float, default=0.0)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    torch.manual_seed(a.seed)
    np.random.seed(a.seed)
    torch.set_num_threads(a.threads)

    x_train = torch.from_numpy(idx(os.path.join(a.data, "train-images-idx3-ubyte")).reshape(-1, 784)
                               .astype(np.float32) / 255)
    y_train = torch.from_numpy(idx(os.path.join(a.data, "train-labels-idx1-ubyte")).astype(np.int64))
    x_test = torch.from_numpy(idx(os.path.join(a.data, "t10k-images-idx3-ubyte")).reshape(-1, 784)
                              .astype(np.float32) / 255)
    y_test = torch.from_numpy(idx(os.path.join(a.data, "t10k-labels-idx1-ubyte")).astype(np.int64))
    x_fit, y_fit, x_val, y_val = x_train[:54000], y_train[:54000], x_train[54000:], y_train[54000:]

    n, k, dt, steps = 784, 10, 0.03, 300
    beta, c = 1 / np.sqrt(n), 1 / (8 * n)
    xp = (beta + np.sqrt(beta**2 - 4 * c)) / 2

    def f(x):
        return x * x / (c + x * x)

    att = torch.full((n, k), float(f(torch.tensor(xp, dtype=torch.float64))), dtype=torch.float32)
    for j in range(k):
        att[j * 78:(j + 1) * 78, j] = 0
    r_att = torch.sqrt(att * c / (1 - att))  # state-space attractors, for the damping
    phi_free = torch.nn.Parameter(torch.empty(n, n - k))
    torch.nn.init.orthogonal_(phi_free, gain=1.3)
    lam_free = torch.nn.Parameter(torch.empty(n - k).uniform_(-0.4, 0.4))
    opt = torch.optim.Adam([phi_free, lam_free], lr=0.005, eps=1e-7)

    def coupling():
        phi = torch.cat([att, phi_free], 1)
        lam = torch.cat([torch.ones(k), lam_free])
        return phi @ torch.diag(lam) @ torch.linalg.inv(phi)

    def flow(x, w_t):
        for _ in range(steps):
            x_new = x + dt * (-x + beta * f(x) @ w_t)
            if a.sigma > 0:
                p = torch.ones(x.shape[0])
                for j in range(k):
                    p = p * ((x - r_att[:, j]) ** 2).mean(1) ** (1 / k)
                x_new = x_new + np.sqrt(dt) * torch.tanh(p)[:, None] * torch.randn_like(x) * a.sigma
            x = x_new
        return f(x)

    def penalty():
        u = phi_free / phi_free.norm(dim=0, keepdim=True)
        g = (u.T @ u).abs()
        m = g.shape[0]
        return 0.004 * (g.sum() - g.diagonal().sum()) / (m * (m - 1))

    def accuracy(xs, ys):
        with torch.no_grad():
            w_t = coupling().T
            right = 0
            for i in range(0, xs.shape[0], 500):
                y = flow(xs[i:i + 500], w_t)
                right += int(((y @ att).argmax(1) == ys[i:i + 500]).sum())
        return right / xs.shape[0]

    with open(os.path.join(a.out, "batches.csv"), "w", newline="") as fb, \
            open(os.path.join(a.out, "evaluations.csv"), "w", newline="") as fe:
        wb, we = csv.writer(fb), csv.writer(fe)
        wb.writerow(["epoch", "batch", "loss", "seconds"])
        we.writerow(["epoch", "batch", "split", "accuracy"])
        start = time.time()
        for epoch in range(1, a.epochs + 1):
            order = torch.randperm(54000)
            for b in range(108):
                sel = order[b * 500:(b + 1) * 500]
                y = flow(x_fit[sel], coupling().T)
                loss = ((y - att.T[y_fit[sel]]) ** 2).mean() + penalty()
                opt.zero_grad()
                loss.backward()
                opt.step()
                wb.writerow([epoch, b + 1, float(loss), round(time.time() - start, 1)])
                fb.flush()
                print(f"epoch {epoch} batch {b + 1} loss {float(loss):.5f} {time.time() - start:.0f} s",
                      flush=True)
                if (b + 1) % a.eval_every == 0 or b == 107:
                    v = accuracy(x_val, y_val)
                    we.writerow([epoch, b + 1, "validation", v])
                    print(f"  validation {100 * v:.2f} %", flush=True)
            t = accuracy(x_test, y_test)
            we.writerow([epoch, 108, "test", t])
            fe.flush()
            print(f"epoch {epoch}: test {100 * t:.2f} % ({time.time() - start:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
