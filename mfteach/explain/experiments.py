r"""The two experiments of FATREC 2017 (Rastegarpanah, Crovella, Gummadi, "Exploring Explanations
for Matrix Factorization Recommender Systems"), in our notation (users in rows: R is m x n,
u_u and v_i are the rows of U and V; the paper stores items in rows).

**Figure 1** (section 4). J = V (V_O^T V_O + lambda I)^{-1} V_O^T (eq. (2), ``influence_matrix``)
depends on WHICH items a user rated, not on the values. So if users a and b rated the same set,
moving r_ak or r_bk by the same epsilon and retraining should change their predictions in the
same way (eq. (3)): f(r_a + epsilon e_k) - f(r_a) = f(r_b + epsilon e_k) - f(r_b) = epsilon J[:, k],
as long as retraining moves essentially only the perturbed user's vector (Hypothesis 1).
``same_set_experiment`` retrains ALS to convergence once per user and compares the changes with
each other and with epsilon J[:, k]; ``identical_rated_sets`` finds users who rated the same items.

**Appendix A** justifies Hypothesis 1: after r_ui += epsilon, the user vector moves much more
than the item vector when there are many more users than items,
||Delta u_u|| / ||Delta v_i|| ~ (m - 1) / (n - 1) for a fully observed m x n matrix (the paper
writes (n-1)/(m-1) with its n users and m items). The derivation assumes that the rows of U and V
are i.i.d. with the same covariance. That is a choice of scale: U G, V G^{-T} give the same
predictions for any invertible k x k G, and U c, V / c multiply the ratio by c^2.
``appendix_a_experiment`` therefore reports the ratio in three ways (see its docstring).
"""

from __future__ import annotations

import numbers
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..als import ALS
from ..base import check_fitted, check_non_negative, check_positive_int, check_ratings
from ..data import synthetic
from ..ratings import Ratings
from ..retraining import retrain
from .fatrec import influence_matrix

__all__ = [
    "identical_rated_sets", "converge", "SameSetResult", "same_set_experiment", "figure1_experiment",
    "balanced_factors", "fully_observed_minimizer", "APPENDIX_A_SHAPES", "appendix_a_experiment",
]


def identical_rated_sets(ratings: Ratings, min_users: int = 2) -> list[tuple[np.ndarray, np.ndarray]]:
    """Groups of users who rated exactly the same items (the values may differ).

    Returns a list of ``(items, users)`` pairs of sorted index arrays, one per rated set shared by
    at least ``min_users`` users, ordered by the group's first user. Users without ratings are left out.
    """
    check_ratings("ratings", ratings)
    min_users = check_positive_int("min_users", min_users)
    starts = ratings.by_user.indptr
    groups: dict[bytes, list[int]] = {}
    for user in np.flatnonzero(np.diff(starts)):      # one lookup per user; the keys hold Omega_u
        groups.setdefault(ratings.cols[starts[user]:starts[user + 1]].tobytes(), []).append(int(user))
    return [(ratings.cols[starts[users[0]]:starts[users[0] + 1]].copy(), np.array(users))
            for users in groups.values() if len(users) >= min_users]


def converge(model: ALS, ratings: Ratings, tol: float = 1e-12, max_iters: int = 10_000) -> ALS:
    """A new ALS with ``model``'s hyperparameters, fitted on ``ratings`` warm-started from ``model``
    (``mt.retrain``) until an iteration lowers the objective by at most ``tol`` times its value (at most
    ``max_iters`` iterations; a RuntimeWarning if that was not enough). For a model already
    converged on the same ratings this takes one iteration and changes nothing."""
    if not isinstance(model, ALS):
        raise TypeError(f"model must be an mfteach.ALS, got {type(model).__name__}")
    check_fitted(model)
    check_ratings("ratings", ratings, model.shape)
    tol = check_non_negative("tol", tol)
    max_iters = check_positive_int("max_iters", max_iters)
    fitted = retrain(model, ratings, n_iters=max_iters, tol=tol)
    loss = fitted.history_["loss"].to_numpy()
    if len(loss) > max_iters and loss[-2] - loss[-1] > tol * loss[-2]:
        warnings.warn(f"ALS did not converge to tol={tol:g} in max_iters={max_iters} iterations", RuntimeWarning,
                      stacklevel=2)
    return fitted


@dataclass(frozen=True)
class SameSetResult:
    """What ``same_set_experiment`` measured (FATREC 2017, Figure 1 and eq. (3)).

    Attributes
    ----------
    users : (p,) int array
        The users, all with the same rated set ``rated_items``; each was perturbed in its own retrain.
    item : int
        The item k whose rating r_uk was moved by ``epsilon``.
    epsilon : float
    rated_items : int array
        The users' common rated set Omega_u.
    change : (p, n) array
        Row j: user j's retrained predictions minus the reference predictions (all n items, the
        perturbed one included).
    predicted : (n,) array
        epsilon J[:, k] from eq. (2) (``influence_matrix`` of the reference model): the same for
        every user of the set, because J only depends on the rated set.
    max_abs_difference : float
        max over items and pairs of users of |change_a - change_b|.
    correlation : float
        Pearson correlation of two users' change vectors (the smallest over pairs, for p > 2).
    correlation_with_J : float
        The smallest correlation of a user's change vector with ``predicted``.
    max_abs_error_J : float
        max |change - predicted| over users and items.
    iterations : (p,) int array
        ALS iterations of each perturbed retrain.
    reference_iterations : int
        Iterations that brought the given model to convergence on the unchanged ratings (1 if it
        was converged already).
    """

    users: np.ndarray
    item: int
    epsilon: float
    rated_items: np.ndarray
    change: np.ndarray
    predicted: np.ndarray
    max_abs_difference: float
    correlation: float
    correlation_with_J: float
    max_abs_error_J: float
    iterations: np.ndarray
    reference_iterations: int

    def frame(self, ratings: Ratings | None = None) -> pd.DataFrame:
        """One row per item: each user's change and J's prediction (and the titles, given ``ratings``)."""
        columns = {f"user {u}": c for u, c in zip(self.users, self.change)}
        frame = pd.DataFrame({**columns, "J prediction": self.predicted})
        if ratings is not None:
            frame.insert(0, "title", ratings.item_labels(np.arange(len(self.predicted))))
        return frame.rename_axis("item")


def _check_users_and_item(ratings: Ratings, users, item) -> tuple[np.ndarray, np.ndarray, int]:
    m, n = ratings.shape
    users = np.asarray(users)
    if users.ndim != 1 or len(users) < 2 or not np.issubdtype(users.dtype, np.integer):
        raise ValueError(f"users must be a sequence of at least 2 user (row) indices, got {users.tolist()!r}")
    if users.min() < 0 or users.max() >= m:
        raise ValueError(f"users must be row indices in [0, {m}), got {users.tolist()}")
    if len(np.unique(users)) != len(users):
        raise ValueError(f"users must be distinct, got {users.tolist()}")
    lo, hi = np.searchsorted(ratings.rows, users), np.searchsorted(ratings.rows, users, side="right")
    rated = ratings.cols[lo[0]:hi[0]]
    if len(rated) == 0:
        raise ValueError(f"user {users[0]} has no ratings")
    for user, a, b in zip(users[1:], lo[1:], hi[1:]):
        if not np.array_equal(ratings.cols[a:b], rated):
            raise ValueError(f"users {users[0]} and {user} did not rate the same items: user {users[0]} rated "
                             f"{rated.tolist()}, user {user} rated {ratings.cols[a:b].tolist()} "
                             "(identical_rated_sets finds users who did)")
    if isinstance(item, bool) or not isinstance(item, numbers.Integral) or item not in set(rated.tolist()):
        raise ValueError(f"item must be one of the items the users rated, {rated.tolist()}; got {item!r}")
    return users, rated, int(item)


def same_set_experiment(model: ALS, ratings: Ratings, users, item: int, epsilon: float = 1.0, tol: float = 1e-12,
                        max_iters: int = 10_000) -> SameSetResult:
    r"""The Figure-1 experiment of FATREC 2017 (eq. (3)): for each user u of ``users`` (who all
    rated the same items) separately, set r_u,item += epsilon, retrain ALS to convergence
    warm-started from the reference model, and record the change of u's n predictions; compare
    the users' changes with each other and with epsilon J[:, item] from eq. (2).

    Parameters
    ----------
    model : ALS
        A fitted ``mfteach.ALS``. The reference is ``converge(model, ratings, tol, max_iters)``:
        the same model retrained to convergence on the unchanged ratings (one iteration if the
        model is converged already). Its predictions are the "before", its J the prediction, and
        it is the warm start of every retrain, so that every "after" is a converged minimum next
        to the "before".
    ratings : Ratings
        The training ratings of ``model``.
    users : sequence of int
        At least two users (row indices) with identical rated sets (see ``identical_rated_sets``).
    item : int
        A column index in the users' rated set.
    epsilon : float
        The change of the rating (the paper: 1). Nonzero.
    tol, max_iters
        The convergence rule of every retrain (``ALS(tol=..., n_iters=max_iters)``).

    Returns
    -------
    SameSetResult
    """
    if not isinstance(model, ALS):
        raise TypeError(f"model must be an mfteach.ALS (J of eq. (2) is its exact user solution), "
                        f"got {type(model).__name__}")
    check_fitted(model)
    check_ratings("ratings", ratings, model.shape)
    users, rated, item = _check_users_and_item(ratings, users, item)
    if isinstance(epsilon, bool) or not isinstance(epsilon, numbers.Real) or not np.isfinite(epsilon) or epsilon == 0:
        raise ValueError(f"epsilon must be a finite nonzero number, got {epsilon!r}")
    reference = converge(model, ratings, tol, max_iters)
    before = reference.predict_matrix()[users]
    J, _ = influence_matrix(reference, ratings, int(users[0]))
    predicted = J[:, np.searchsorted(rated, item)] * epsilon          # eq. (2): d r_hat_u / d r_u,item

    change, iterations = [], []
    for j, user in enumerate(users):
        values = ratings.values.copy()
        values[ratings.index_of(user, item)] += epsilon               # r_u,item + epsilon for this user only
        after = converge(reference, ratings.with_values(values), tol, max_iters)
        change.append(after.predict_matrix()[user] - before[j])
        iterations.append(len(after.history_) - 1)
    change = np.array(change)

    pairwise = np.corrcoef(change)
    return SameSetResult(
        users=users, item=item, epsilon=float(epsilon), rated_items=rated, change=change, predicted=predicted,
        max_abs_difference=float(np.ptp(change, axis=0).max()),
        correlation=float(pairwise[~np.eye(len(users), dtype=bool)].min()),
        correlation_with_J=float(min(np.corrcoef(c, predicted)[0, 1] for c in change)),
        max_abs_error_J=float(np.abs(change - predicted).max()),
        iterations=np.array(iterations), reference_iterations=len(reference.history_) - 1,
    )


figure1_experiment = same_set_experiment  # the name of the paper's figure


# ---------------------------------------------------------------------------- Appendix A
def balanced_factors(U, V) -> tuple[np.ndarray, np.ndarray]:
    r"""The factors of the same predictions U V^T with U_b^T U_b = V_b^T V_b = S (diagonal):
    U_b = P S^{1/2}, V_b = Q S^{1/2} from the SVD U V^T = P S Q^T, computed from k x k matrices.

    Every minimizer of a loss plus lambda (||U||^2 + ||V||^2) is balanced: predictions only see
    U V^T, and among all U G, V G^{-T} the penalty is smallest when U^T U = V^T V. ALS only
    approaches the balance slowly (at a rate set by lambda), so the experiments balance explicitly.
    Unique up to U_b Q, V_b Q with Q orthogonal (signs of columns; rotations where singular values tie).
    """
    Q_u, R_u = np.linalg.qr(np.asarray(U, dtype=float))
    Q_v, R_v = np.linalg.qr(np.asarray(V, dtype=float))
    left, s, right_t = np.linalg.svd(R_u @ R_v.T)     # U V^T = Q_u (R_u R_v^T) Q_v^T
    root = np.sqrt(s)
    return (Q_u @ left) * root, (Q_v @ right_t.T) * root


def fully_observed_minimizer(R, rank: int, reg: float) -> tuple[np.ndarray, np.ndarray]:
    r"""The exact minimizer (U, V) of ||R - U V^T||_F^2 + lambda (||U||^2 + ||V||^2) over m x k and
    n x k factors for a FULLY observed R: with the SVD R = P S Q^T, U = P_k D^{1/2} and
    V = Q_k D^{1/2}, D = max(S_k - lambda, 0) (lambda (||U||^2 + ||V||^2) >= 2 lambda ||U V^T||_*,
    with equality for balanced factors, so the best U V^T shrinks the top k singular values by lambda).
    It is a fixed point of ALS: R V (V^T V + lambda I)^{-1} = P_k S_k D^{1/2} (D + lambda)^{-1} = U."""
    P, s, Q_t = np.linalg.svd(np.asarray(R, dtype=float), full_matrices=False)
    root = np.sqrt(np.maximum(s[:rank] - reg, 0.0))
    return P[:, :rank] * root, Q_t[:rank].T * root


def _rotate_onto(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """The orthogonal Q minimizing ||source Q - target||_F (orthogonal Procrustes)."""
    left, _, right_t = np.linalg.svd(source.T @ target)
    return left @ right_t


#: Appendix A shapes (n_users, n_items): 20 items and 20 to 2000 users, and the mirror image.
APPENDIX_A_SHAPES = tuple([(20 * r, 20) for r in (1, 2, 5, 10, 20, 50, 100)]
                          + [(20, 20 * r) for r in (2, 5, 10, 20, 50, 100)])


def appendix_a_experiment(shapes=APPENDIX_A_SHAPES, rank: int = 4, density: float = 1.0, epsilon: float = 1.0,
                          reg: float = 1.0, noise: float = 0.1, n_perturbations: int = 8, tol: float = 1e-10,
                          max_iters: int = 10_000, seed: int = 0, progress: bool = False) -> pd.DataFrame:
    r"""Appendix A of FATREC 2017 on synthetic data: how much more does the user vector move than
    the item vector when one rating changes?

    For every (n_users, n_items) = (m, n) in ``shapes``: planted rank-``rank`` ratings
    (``mt.synthetic``, fully observed when ``density=1``, the case the derivation treats), ALS
    fitted to convergence; then, ``n_perturbations`` times, one random observed r_ui += epsilon and
    a warm-started retrain to convergence. Both fits are balanced (``balanced_factors``) and the
    retrained one is rotated onto the first (Procrustes), which removes the freedom U G, V G^{-T}
    except for a common scale; Delta u_u, Delta v_i are the differences of the rows.

    Columns (geometric means over the perturbations):

    * ``ratio_observed``: ||Delta u_u|| / ||Delta v_i|| after scaling U by c and V by 1/c so that
      the rows of U and of V have the same mean squared norm, the paper's assumption
      (u_k, v_k i.i.d. N(0, sigma^2 I)); ``ratio_min``, ``ratio_max``: its range over the perturbations;
    * ``ratio_balanced``: the same ratio in the balanced scale the ridge penalty picks
      (U^T U = V^T V, where rows of V are about sqrt(m / n) times longer than rows of U);
    * ``share_ratio``: |v_i . Delta u_u| / |u_u . Delta v_i|, how much of the first-order change of
      r_hat_ui the user vector carries compared with the item vector (no choice of scale involved);
    * ``ratio_predicted`` = (m - 1) / (n - 1), Appendix A's eq. (18);
    * ``count_ratio``: (|Omega^i| - 1) / (|Omega_u| - 1) of the perturbed pairs, the sparse analogue
      (equal to ``ratio_predicted`` when density = 1);
    * ``iterations``: mean ALS iterations of a retrain.

    The perturbed pairs are drawn among users and items with at least 2 ratings. ``progress``
    shows a tqdm bar over the shapes.
    """
    rank = check_positive_int("rank", rank)
    shapes = [tuple(shape) for shape in shapes]
    for shape in shapes:
        if (len(shape) != 2 or any(isinstance(s, bool) or not isinstance(s, numbers.Integral) for s in shape)
                or min(shape) < 2 or rank >= min(shape)):
            raise ValueError(f"every shape must be (n_users, n_items), integers >= 2 and > rank = {rank}; "
                             f"got {shape!r}")
    n_perturbations = check_positive_int("n_perturbations", n_perturbations)
    if isinstance(epsilon, bool) or not isinstance(epsilon, numbers.Real) or not np.isfinite(epsilon) or epsilon == 0:
        raise ValueError(f"epsilon must be a finite nonzero number, got {epsilon!r}")
    if not isinstance(density, numbers.Real) or not 0 < density <= 1:
        raise ValueError(f"density must be in (0, 1], got {density!r}")
    if progress:
        from tqdm.auto import tqdm

        shapes = tqdm(shapes, desc="Appendix A", unit="shape")
    rows = []
    for m, n in shapes:
        ratings = synthetic(m, n, rank, density=density, noise=noise, seed=seed)[0]
        # fully observed: start at the exact minimizer, the top singular values shrunk by lambda
        start = fully_observed_minimizer(ratings.to_dense(), rank, reg) if density == 1 else None
        base = ALS(rank=rank, reg=reg, n_iters=max_iters, tol=tol, seed=seed).fit(ratings, init=start)
        U, V = balanced_factors(base.U_, base.V_)
        scale = np.sqrt(np.sqrt(np.mean(V**2) / np.mean(U**2)))   # c: mean ||c u_u||^2 = mean ||v_i / c||^2
        user_counts, item_counts = ratings.user_counts(), ratings.item_counts()
        eligible = np.flatnonzero((user_counts[ratings.rows] >= 2) & (item_counts[ratings.cols] >= 2))
        rng = np.random.default_rng(seed)
        measured = []
        for entry in rng.choice(eligible, size=min(n_perturbations, len(eligible)), replace=False):
            u, i = ratings.rows[entry], ratings.cols[entry]
            values = ratings.values.copy()
            values[entry] += epsilon
            after = converge(base, ratings.with_values(values), tol, max_iters)
            U2, V2 = balanced_factors(after.U_, after.V_)
            Q = _rotate_onto(np.vstack([U2, V2]), np.vstack([U, V]))
            du, dv = U2[u] @ Q - U[u], V2[i] @ Q - V[i]
            balanced = np.linalg.norm(du) / np.linalg.norm(dv)
            measured.append((balanced * scale**2, balanced, abs(V[i] @ du) / abs(U[u] @ dv),
                             (item_counts[i] - 1) / (user_counts[u] - 1), len(after.history_) - 1))
        measured = np.array(measured)
        geometric = np.exp(np.log(measured[:, :4]).mean(axis=0))
        rows.append({"n_users": m, "n_items": n, "ratio_predicted": (m - 1) / (n - 1),
                     "ratio_observed": geometric[0], "ratio_min": measured[:, 0].min(),
                     "ratio_max": measured[:, 0].max(), "ratio_balanced": geometric[1],
                     "share_ratio": geometric[2], "count_ratio": geometric[3],
                     "iterations": measured[:, 4].mean()})
    return pd.DataFrame(rows)
