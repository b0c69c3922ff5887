"""Convex biclustering (COBRA, Chi, Allen and Baraniuk 2017) and its sparse form,
solved on the dual so that every iterate is feasible and certifiable.

With X rows x columns (each column centred by the caller):

    F(U) = ½‖X − U‖²  +  γ Σ_{(i,j)∈E_c} w_ij ‖U_·i − U_·j‖  +  λ Σ_j ‖U_·j‖
                      +  γ Σ_{(k,l)∈E_r} w̃_kl ‖U_k· − U_l·‖

λ = 0 is COBRA. ``f`` (the column terms, fusion and group lasso) and ``g`` (row
fusion) are each a sum of norms of D U for an incidence-like D, so their conjugates
are indicators of products of balls: with P = D_cᵀΛ_c, Q = D_rᵀΛ_r and every dual
block ‖λ_e‖ ≤ its weight, U = X − P − Q and the dual objective is Φ = ½‖X − P − Q‖².

The published splitting (Dykstra-like: the proximal map of f, then of g, each a
convex clustering of columns or rows) is exact block coordinate descent on Φ. Each
block is solved by a few warm-started steps of AMA (projected gradient on the block's
dual; step < 2/‖D‖² so Φ never increases) or ADMM (its dual is feasible after every
V-update; a step is kept only if it does not increase Φ). The duality gap
F(U) − (½‖X‖² − Φ) = [f(U) − ⟨P, U⟩] + [g(U) − ⟨Q, U⟩] ≥ 0 is the stopping rule
and the optimality certificate: both brackets are zero exactly at the optimum.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from scipy.sparse import coo_matrix, csr_matrix
from scipy.sparse.csgraph import connected_components, minimum_spanning_tree
from scipy.sparse.linalg import eigsh


def knn_graph(points: np.ndarray, k: int, phi: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Edges (i < j) of the k-nearest-neighbour graph of the rows of ``points``,
    joined with a minimum spanning tree so that the graph is connected, and their
    Gaussian-kernel weights exp(−φ d² / median d²), scaled to sum to 1/√dim (COBRA's
    normalisation, which balances the row and column penalties)."""
    n, dim = points.shape
    sq = np.sum(points**2, axis=1)
    d2 = np.maximum(sq[:, None] + sq[None, :] - 2 * points @ points.T, 0.0)
    np.fill_diagonal(d2, 0.0)
    off = d2[np.triu_indices(n, 1)]
    scale = np.median(off) if np.median(off) > 0 else (off.max() if off.size and off.max() > 0 else 1.0)
    k = max(1, min(k, n - 1))
    ranked = d2 + np.diag(np.full(n, np.inf))
    neighbours = np.argpartition(ranked, k - 1, axis=1)[:, :k] if k < n - 1 else np.argsort(ranked, axis=1)[:, :k]
    rows = np.repeat(np.arange(n), k)
    cols = neighbours.ravel()
    # Tiny offset: scipy reads a zero distance as no edge, and duplicate points must join.
    tree = minimum_spanning_tree(np.sqrt(d2) + 1e-9 * np.sqrt(scale) * (1 - np.eye(n))).tocoo()
    a = np.concatenate([np.minimum(rows, cols), np.minimum(tree.row, tree.col)])
    b = np.concatenate([np.maximum(rows, cols), np.maximum(tree.row, tree.col)])
    keep = a != b
    pairs = np.unique(a[keep].astype(np.int64) * n + b[keep])
    i, j = pairs // n, pairs % n
    weights = np.exp(-phi * d2[i, j] / scale)
    weights = weights / weights.sum() / np.sqrt(dim)
    return i, j, weights


def components(n: int, i: np.ndarray, j: np.ndarray, fused: np.ndarray) -> np.ndarray:
    """Cluster id of each of ``n`` points: connected components of the fused edges,
    numbered in order of first appearance."""
    graph = coo_matrix((np.ones(int(fused.sum())), (i[fused], j[fused])), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    _, first = np.unique(labels, return_index=True)
    order = np.argsort(np.argsort(first))
    return order[labels]


def _laplacian(n: int, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    L = np.zeros((n, n))
    np.add.at(L, (i, j), -1.0)
    np.add.at(L, (j, i), -1.0)
    L[np.diag_indices(n)] = -L.sum(axis=1)
    return L


def _project(L: torch.Tensor, radius: torch.Tensor) -> torch.Tensor:
    """Each row of L onto the ball of its radius."""
    norms = L.norm(dim=1, keepdim=True)
    return L * torch.clamp(radius[:, None] / torch.clamp(norms, min=1e-300), max=1.0)


def _soft(L: torch.Tensor, radius: torch.Tensor) -> torch.Tensor:
    """Block soft-threshold of each row (the proximal map of radius·‖·‖)."""
    norms = L.norm(dim=1, keepdim=True)
    return L * torch.clamp(1 - radius[:, None] / torch.clamp(norms, min=1e-300), min=0.0)


class FusionBlock:
    """One block: min_Y ½‖Z − Y‖² + Σ_e c_e ‖(D Y)_e‖ over the rows (points) of Y,
    D = edge differences, plus identity rows (anchors at the origin) when the block
    carries the group lasso. Solved on its dual Λ (one row per edge or anchor)."""

    def __init__(self, n: int, i, j, edge_radius, anchor_radius: float | None, solver: str, rho: float,
                 device, dtype):
        self.n, self.solver, self.rho = n, solver, rho
        self.i = torch.as_tensor(i, device=device)
        self.j = torch.as_tensor(j, device=device)
        self.anchored = anchor_radius is not None and anchor_radius > 0
        radius = [torch.as_tensor(edge_radius, dtype=dtype, device=device)]
        if self.anchored:
            radius.append(torch.full((n,), float(anchor_radius), dtype=dtype, device=device))
        self.radius = torch.cat(radius)
        self._operators(np.asarray(i), np.asarray(j), device, dtype)
        laplacian = _laplacian(n, np.asarray(i), np.asarray(j)) + (np.eye(n) if self.anchored else 0.0)
        if n > 2:
            top = eigsh(laplacian, k=1, which="LA", return_eigenvectors=False)[0]
        else:
            top = np.linalg.eigvalsh(laplacian)[-1]
        self.step = 1.0 / (top * (1 + 1e-6) + 1e-12)  # 1/‖D‖², the accelerated step
        if solver == "admm":
            system = torch.as_tensor(np.eye(n) + rho * laplacian, dtype=dtype, device=device)
            self.factor = torch.linalg.cholesky(system)
        self.V = None

    def _operators(self, i: np.ndarray, j: np.ndarray, device, dtype) -> None:
        """D and Dᵀ as sparse matrices: one sparse product each instead of a gather
        and an index_add_ (whose CPU kernel is slow, and scattered on CUDA). On the
        CPU scipy's product is the fastest; torch tensors share its memory."""
        E = len(i)
        rows = np.concatenate([np.arange(E), np.arange(E)] + ([E + np.arange(self.n)] if self.anchored else []))
        cols = np.concatenate([i, j] + ([np.arange(self.n)] if self.anchored else []))
        values = np.concatenate([np.ones(E), -np.ones(E)] + ([np.ones(self.n)] if self.anchored else []))
        D = csr_matrix((values, (rows, cols)), shape=(len(self.radius), self.n))
        self.cpu = torch.device(device).type == "cpu"
        if self.cpu:
            self._D, self._Dt = D, D.T.tocsr()
        else:
            self._D, self._Dt = (torch.sparse_csr_tensor(torch.as_tensor(m.indptr), torch.as_tensor(m.indices),
                                                         torch.as_tensor(m.data, dtype=dtype), m.shape, device=device)
                                 for m in (D, D.T.tocsr()))

    def _apply(self, matrix, A: torch.Tensor) -> torch.Tensor:
        if self.cpu:
            return torch.from_numpy(np.asarray(matrix @ A.numpy()))
        return matrix @ A

    def D(self, Y: torch.Tensor) -> torch.Tensor:
        return self._apply(self._D, Y.contiguous())

    def Dt(self, L: torch.Tensor) -> torch.Tensor:
        return self._apply(self._Dt, L.contiguous())

    def penalty(self, Y: torch.Tensor) -> torch.Tensor:
        return (self.radius * self.D(Y).norm(dim=1)).sum()

    def zero_dual(self, dim: int, like: torch.Tensor) -> torch.Tensor:
        return torch.zeros((len(self.radius), dim), dtype=like.dtype, device=like.device)

    def _ama(self, Z: torch.Tensor, L: torch.Tensor, steps: int) -> torch.Tensor:
        """Accelerated AMA (FISTA on the block dual) in its monotone form (Beck and
        Teboulle 2009): an extrapolated step is taken only where it does not raise
        the block's dual, so Φ never increases. Dᵀ is linear, so the extrapolated
        point's DᵀΛ is combined from stored products instead of recomputed."""
        x, Dtx = L, self.Dt(L)
        value = 0.5 * (Z - Dtx).square().sum()
        y, Dty, t = x, Dtx, 1.0
        for _ in range(steps):
            z = _project(y + self.step * self.D(Z - Dty), self.radius)
            Dtz = self.Dt(z)
            z_value = 0.5 * (Z - Dtz).square().sum()
            t_next = (1 + (1 + 4 * t * t) ** 0.5) / 2
            if z_value <= value:
                x_prev, Dtx_prev = x, Dtx
                x, Dtx, value = z, Dtz, z_value
                y = x + ((t - 1) / t_next) * (x - x_prev)
                Dty = Dtx + ((t - 1) / t_next) * (Dtx - Dtx_prev)
            else:
                y = x + (t / t_next) * (z - x)
                Dty = Dtx + (t / t_next) * (Dtz - Dtx)
            t = t_next
        return x

    def solve(self, Z: torch.Tensor, L: torch.Tensor, steps: int) -> torch.Tensor:
        """``steps`` warm-started iterations from dual L; returns the new dual."""
        if self.solver == "ama":
            return self._ama(Z, L, steps)
        before = 0.5 * (Z - self.Dt(L)).square().sum()
        if self.V is None or self.V.shape != L.shape:
            self.V = self.D(Z - self.Dt(L))
        new, V = L, self.V
        for _ in range(steps):
            Y = torch.cholesky_solve(Z - self.Dt(new) + self.rho * self.Dt(V), self.factor)
            DY = self.D(Y)
            V = _soft(DY + new / self.rho, self.radius / self.rho)
            new = _project(new + self.rho * (DY - V), self.radius)  # feasible already; guards rounding
        if 0.5 * (Z - self.Dt(new)).square().sum() <= before:
            self.V = V
            return new
        return L  # ADMM is not monotone on the dual; a step that raises Φ is not taken


@dataclass
class ConvexFit:
    U: np.ndarray
    row_labels: np.ndarray
    column_labels: np.ndarray  # -1: a column the group lasso set to zero
    n_iter: int
    gap: float
    objective: float
    history: list = field(default_factory=list)  # (iteration, dual Φ, primal F, gap)
    state: dict = field(default_factory=dict)    # duals, for warm starts


class ConvexBiclusterSolver:
    """The graphs and blocks of one data matrix; ``solve`` for any (γ, λ)."""

    def __init__(self, X: np.ndarray, k: int = 5, phi: float = 5.0, solver: str = "ama", rho: float = 1.0,
                 device="cpu"):
        if solver not in ("ama", "admm"):
            raise ValueError(f"solver must be 'ama' or 'admm', got {solver!r}")
        self.device = torch.device(device)
        self.dtype = torch.float64
        self.X = torch.as_tensor(np.asarray(X, dtype=float), dtype=self.dtype, device=self.device)
        self.n, self.p = X.shape
        self.row_graph = knn_graph(np.asarray(X, dtype=float), k, phi)
        self.column_graph = knn_graph(np.asarray(X, dtype=float).T, k, phi)
        self.solver, self.rho = solver, rho
        self.scale = float(np.linalg.norm(X)) or 1.0

    def blocks(self, gamma: float, lam: float) -> tuple[FusionBlock, FusionBlock]:
        ci, cj, cw = self.column_graph
        ri, rj, rw = self.row_graph
        columns = FusionBlock(self.p, ci, cj, gamma * cw, lam, self.solver, self.rho, self.device, self.dtype)
        rows = FusionBlock(self.n, ri, rj, gamma * rw, None, self.solver, self.rho, self.device, self.dtype)
        return columns, rows

    def objective(self, U: torch.Tensor, columns: FusionBlock, rows: FusionBlock) -> float:
        return float(0.5 * (self.X - U).square().sum() + columns.penalty(U.T) + rows.penalty(U))

    def solve(self, gamma: float, lam: float = 0.0, tol: float = 1e-4, max_iter: int = 1000, inner_steps: int = 5,
              check_every: int = 5, fuse_tol: float = 1e-3, warm: dict | None = None,
              keep_history: bool = False, stable_checks: int = 0) -> ConvexFit:
        """Runs until the duality gap is below ``tol`` x F, or, with ``stable_checks``
        > 0, until the read-off partitions stay the same over that many consecutive
        checks (the partition is what the methods use; its last digits are not)."""
        columns, rows = self.blocks(gamma, lam)
        Xt = self.X.T.contiguous()
        Lc, Lr = columns.zero_dual(self.n, self.X), rows.zero_dual(self.p, self.X)
        if warm is not None and warm["Lc"].shape == Lc.shape and warm["Lr"].shape == Lr.shape:
            # Rescaled duals of a neighbouring (γ, λ) stay feasible: the radii scale alike.
            Lc = _project(warm["Lc"].clone(), columns.radius)
            Lr = _project(warm["Lr"].clone(), rows.radius)
        Pt, Q = columns.Dt(Lc), rows.Dt(Lr)
        history, gap, primal = [], np.inf, np.inf
        half_x = 0.5 * float(self.X.square().sum())
        iteration, last, same = 0, None, 0
        for iteration in range(1, max_iter + 1):
            Lc = columns.solve(Xt - Q.T, Lc, inner_steps)   # proximal map of f at X − Q
            Pt = columns.Dt(Lc)
            Lr = rows.solve(self.X - Pt.T, Lr, inner_steps)  # proximal map of g at X − P
            Q = rows.Dt(Lr)
            if iteration % check_every == 0 or iteration == max_iter:
                U = self.X - Pt.T - Q
                dual = 0.5 * float(U.square().sum())
                primal = self.objective(U, columns, rows)
                gap = primal - (half_x - dual)
                if keep_history:
                    history.append((iteration, dual, primal, gap))
                if gap <= tol * max(primal, 1e-300):
                    break
                if stable_checks:
                    labels = self.read_off(U, fuse_tol)
                    same = same + 1 if last is not None and all(map(np.array_equal, labels, last)) else 0
                    last = labels
                    if same >= stable_checks:
                        break
        U = self.X - Pt.T - Q
        row_labels, column_labels = self.read_off(U, fuse_tol)
        return ConvexFit(U.cpu().numpy(), row_labels, column_labels, iteration, float(gap), float(primal), history,
                         {"Lc": Lc, "Lr": Lr})

    def read_off(self, U: torch.Tensor, fuse_tol: float) -> tuple[np.ndarray, np.ndarray]:
        """Rows (columns) fuse where their difference along a graph edge is below
        ``fuse_tol`` times the typical norm of one row (column) of X; columns whose
        norm is below it are zero, labelled -1."""
        U = U.cpu().numpy()
        ri, rj, _ = self.row_graph
        ci, cj, _ = self.column_graph
        row_limit = fuse_tol * self.scale / np.sqrt(self.n)
        column_limit = fuse_tol * self.scale / np.sqrt(self.p)
        row_labels = components(self.n, ri, rj, np.linalg.norm(U[ri] - U[rj], axis=1) <= row_limit)
        zero = np.linalg.norm(U, axis=0) <= column_limit
        fused = (np.linalg.norm(U[:, ci] - U[:, cj], axis=0) <= column_limit) & ~zero[ci] & ~zero[cj]
        column_labels = components(self.p, ci, cj, fused)
        column_labels[zero] = -1
        kept = ~zero
        if kept.any():  # renumber the kept columns' clusters 0..c-1
            _, column_labels[kept] = np.unique(column_labels[kept], return_inverse=True)
        return row_labels, column_labels
