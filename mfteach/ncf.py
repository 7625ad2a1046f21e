r"""Neural collaborative filtering in numpy (He et al. 2017, as written in eq. (2)-(5) of the
KDD 2019 FIA paper), for explicit ratings.

The prediction is a multi-layer perceptron on the concatenated embeddings (eq. (3)-(5)), with
ReLU hidden layers and a linear output, plus a fixed global offset mu:

.. math::

    z_0 = p_u \oplus q_i, \qquad
    z_l = \mathrm{ReLU}(W_l z_{l-1} + b_l) \ (l = 1..X), \qquad
    \hat r_{ui} = \mu + w_{out}^\top z_X + b_{out}.

p_u (row u of ``P_``, m x d) and q_i (row i of ``Q_``, n x d) are the user and item
embeddings (the paper's theta_e); W_l, b_l, w_out, b_out are the network (theta_n). mu is the
mean training rating, fixed before training: the network then only learns deviations from it,
which starts every fit near the best constant and helps the test RMSE a lot (MovieLens 100K,
``split(0.2, seed=0)``, defaults, 20 epochs: 0.916 with mu, 0.941 with mu = 0, where the output
bias has to learn the offset).

The loss is the lecture notes' summed objective divided by |Omega|, as in ``GradientDescent``:

.. math::

    L = \frac{1}{|\Omega|}\Big[\sum_{(u,i)\in\Omega}(r_{ui} - \hat r_{ui})^2
        + \lambda\big(\|P\|^2 + \|Q\|^2 + \|\theta_n\|^2\big)\Big],

so ``reg`` (lambda) means what it means in ``ALS``; ||theta_n||^2 sums the squares of all
weights and biases of the network. A mini-batch B estimates its gradient without bias from one
term per rating, l_ui = e_ui^2 + lambda (||p_u||^2 / |Omega_u| + ||q_i||^2 / |Omega^i|
+ ||theta_n||^2 / |Omega|), averaged over B (the penalty of each embedding shared among its
ratings; an embedding with no rating gets its exact penalty gradient 2 lambda p / |Omega| in
every step). Training is Adam (Kingma and Ba 2015) on shuffled mini-batches, as in the paper.

Backpropagation for a batch (dy = dL/dr_hat = -2 e / |B|; ``*`` is elementwise):

.. math::

    \nabla w_{out} = z_X^\top dy,\quad dz_X = dy\, w_{out}^\top,\quad
    da_l = dz_l * [a_l > 0],\quad \nabla W_l = da_l^\top z_{l-1},\quad
    \nabla b_l = \textstyle\sum_B da_l,\quad dz_{l-1} = da_l W_l,

and the two halves of dz_0 are added to the rows p_u and q_i of the batch.

Because every hidden layer is ReLU and the output linear, r_hat is piecewise linear in
z_0 = (p_u, q_i): its second derivative with respect to the embeddings is zero almost
everywhere. ``mfteach.explain.fast_influence_ncf`` uses this to get the exact Hessian of the loss with
respect to (p_u, q_i) from first derivatives only.
"""

from __future__ import annotations

import math
import numbers
import time

import numpy as np
import pandas as pd

from .base import (Recommender, check_fitted, check_non_negative, check_pairs, check_positive, check_positive_int,
                   check_ratings, mean_rating, remember_training)
from .gd import stop_if_diverged
from .ratings import Ratings

__all__ = ["NCF", "loss", "gradient", "forward", "backward", "param_names"]

ADAM_BETAS, ADAM_EPS = (0.9, 0.999), 1e-8


def param_names(n_hidden: int) -> list[str]:
    """The parameter arrays in their fixed order: P, Q, W1, b1, ..., WX, bX, w_out, b_out."""
    layers = [name for l in range(1, n_hidden + 1) for name in (f"W{l}", f"b{l}")]
    return ["P", "Q", *layers, "w_out", "b_out"]


def _param_shapes(m: int, n: int, d: int, hidden) -> dict:
    sizes = (2 * d, *hidden)
    shapes = {"P": (m, d), "Q": (n, d)}
    for l in range(1, len(hidden) + 1):
        shapes[f"W{l}"], shapes[f"b{l}"] = (sizes[l], sizes[l - 1]), (sizes[l],)
    return {**shapes, "w_out": (sizes[-1],), "b_out": (1,)}


def _sum_by_row(index: np.ndarray, values: np.ndarray, n_rows: int) -> np.ndarray:
    """out[r] = sum of values[j] over j with index[j] == r (an n_rows x k array): the scatter of
    per-rating gradients onto the embedding rows. One flat ``np.bincount``: several times faster
    than ``np.add.at`` for mini-batch sizes."""
    k = values.shape[1]
    flat = (index[:, None] * k + np.arange(k)).ravel()
    return np.bincount(flat, values.ravel(), n_rows * k).reshape(n_rows, k)


def _n_hidden(params: dict) -> int:
    return (len(params) - 4) // 2


def forward(params: dict, rows, cols, mu: float = 0.0):
    """r_hat for the pairs (rows, cols), eq. (3)-(5), and the cache ``backward`` needs.

    The cache is (rows, cols, [z_0, ..., z_X], [a_1, ..., a_X]) with a_l = W_l z_{l-1} + b_l
    (the pre-activations; z_l = ReLU(a_l)); one row per pair.
    """
    z = np.hstack([params["P"][rows], params["Q"][cols]])  # z_0 = p_u (+) q_i, eq. (4)
    zs, pre = [z], []
    for l in range(1, _n_hidden(params) + 1):
        a = z @ params[f"W{l}"].T + params[f"b{l}"]  # W_l z_{l-1} + b_l, eq. (5)
        z = np.maximum(a, 0.0)  # ReLU
        zs.append(z)
        pre.append(a)
    prediction = mu + z @ params["w_out"] + params["b_out"][0]
    return prediction, (rows, cols, zs, pre)


def backward(params: dict, cache, dy: np.ndarray, with_embeddings: bool = True):
    """J^T dy: the gradient of sum_k dy_k r_hat_k with respect to every parameter array, and
    dz_0 (one row per pair: d/d(p_u, q_i) of dy_k r_hat_k). With ``with_embeddings=False``
    the P and Q entries are left out (no scatter)."""
    rows, cols, zs, pre = cache
    X = _n_hidden(params)
    grads = {"w_out": zs[X].T @ dy, "b_out": np.array([dy.sum()])}
    dz = dy[:, None] * params["w_out"][None, :]
    for l in range(X, 0, -1):
        da = dz * (pre[l - 1] > 0)  # ReLU'(a_l)
        grads[f"W{l}"] = da.T @ zs[l - 1]
        grads[f"b{l}"] = da.sum(axis=0)
        dz = da @ params[f"W{l}"]
    if with_embeddings:
        d = params["P"].shape[1]
        grads["P"] = _sum_by_row(rows, dz[:, :d], params["P"].shape[0])
        grads["Q"] = _sum_by_row(cols, dz[:, d:], params["Q"].shape[0])
    return {name: grads[name] for name in params if name in grads}, dz


class _Data:
    """The training ratings in the forms the steps need, computed once per ``fit``.

    ``weights`` (``NCF.fit``'s checked ``sample_weight``, one >= 0 per rating) scale the squared
    errors; a weight 0 removes a rating while keeping its position, so that a retrain without a
    rating sees the same mini-batches as one with it (leave-one-out validation,
    ``mfteach.explain.fast_influence_ncf``). With 0/1 weights the objective is sum(w) / |Omega| times L on
    the remaining ratings: the same minimizer. Each embedding's penalty is shared among its
    ratings in proportion to their weights, so it is paid in full once per epoch.
    """

    def __init__(self, ratings: Ratings, weights=None):
        self.m, self.n = ratings.shape
        self.rows, self.cols, self.values = ratings.rows, ratings.cols, ratings.values
        self.n_ratings = len(ratings)
        self.weights = np.ones(self.n_ratings) if weights is None else np.asarray(weights, dtype=float)
        self.total_weight = float(self.weights.sum())
        user_counts = np.bincount(self.rows, self.weights, self.m)
        item_counts = np.bincount(self.cols, self.weights, self.n)
        self.user_share = self.weights / np.maximum(user_counts, 1)[self.rows]  # w / |Omega_u|
        self.item_share = self.weights / np.maximum(item_counts, 1)[self.cols]
        self.unrated_users = np.flatnonzero(user_counts == 0)
        self.unrated_items = np.flatnonzero(item_counts == 0)


def _check_sample_weight(sample_weight, n_ratings: int):
    """``sample_weight`` as a float array of length ``n_ratings`` (or None), else a clear error:
    one finite weight >= 0 per rating, not all zero."""
    if sample_weight is None:
        return None
    try:
        weights = np.asarray(sample_weight, dtype=float)
    except (TypeError, ValueError):
        raise TypeError(f"sample_weight must be an array of numbers, one per training rating, "
                        f"got {type(sample_weight).__name__}") from None
    if weights.shape != (n_ratings,):
        raise ValueError(f"sample_weight must have one weight per training rating, shape ({n_ratings},), "
                         f"got shape {weights.shape}")
    if not np.all(np.isfinite(weights)):
        raise ValueError("sample_weight contains NaN or inf: every weight must be a finite number >= 0")
    if n_ratings and weights.min() < 0:
        raise ValueError(f"sample_weight must be >= 0 (0 drops a rating), got a minimum of {weights.min():g}")
    if n_ratings and not weights.any():
        raise ValueError("sample_weight is 0 for every rating: at least one rating must keep a positive weight")
    return weights


def _penalty(params: dict) -> float:
    return float(sum(np.sum(value**2) for value in params.values()))


def _batch_gradient(data: _Data, params: dict, mu: float, reg: float, idx) -> dict:
    """(1/|B|) sum_{B} grad l_ui (module docstring) for the entries ``idx``, plus the exact
    penalty gradient of unrated embeddings; with idx = all of Omega, the gradient of L."""
    rows, cols = data.rows[idx], data.cols[idx]
    prediction, cache = forward(params, rows, cols, mu)
    weights = data.weights[idx]
    scale = 1.0 / len(rows)
    e = data.values[idx] - prediction
    grads, _ = backward(params, cache, -2.0 * scale * weights * e)  # dL/dr_hat = -2 e / |B|
    share = 2.0 * reg * scale
    grads["P"] += share * _sum_by_row(rows, data.user_share[idx, None] * params["P"][rows], data.m)
    grads["Q"] += share * _sum_by_row(cols, data.item_share[idx, None] * params["Q"][cols], data.n)
    network_share = 2.0 * reg * float(weights.sum()) * scale / data.total_weight  # sum_B w_z / |Omega|
    for name in list(params)[2:]:
        grads[name] += network_share * params[name]
    exact = 2.0 * reg / data.n_ratings
    grads["P"][data.unrated_users] += exact * params["P"][data.unrated_users]
    grads["Q"][data.unrated_items] += exact * params["Q"][data.unrated_items]
    return grads


def _objective(data: _Data, params: dict, mu: float, reg: float) -> tuple[float, float]:
    """(L, train RMSE) on all of Omega."""
    prediction, _ = forward(params, data.rows, data.cols, mu)
    squared = data.weights * (data.values - prediction) ** 2
    return ((squared.sum() + reg * _penalty(params)) / data.n_ratings,
            math.sqrt(squared.sum() / data.weights.sum()))


def _check_params(params: dict, ratings: Ratings) -> dict:
    if not isinstance(params, dict) or list(params) != param_names(_n_hidden(params)):
        raise ValueError(f"params must be a dict with the arrays {param_names(2)} (for two hidden layers), "
                         f"in this order; got {list(params) if isinstance(params, dict) else type(params).__name__}")
    if params["P"].shape[0] != ratings.shape[0] or params["Q"].shape[0] != ratings.shape[1]:
        raise ValueError(f"P and Q must have {ratings.shape[0]} and {ratings.shape[1]} rows for these ratings, "
                         f"got {params['P'].shape} and {params['Q'].shape}")
    return params


def loss(ratings: Ratings, params: dict, reg: float = 0.0, mu: float = 0.0) -> float:
    """L: the mean squared error plus the ridge penalty over |Omega| (module docstring).
    ``params`` is a dict in the order of ``param_names`` (e.g. ``model.params_``)."""
    _check_params(params, check_ratings("ratings", ratings))
    return _objective(_Data(ratings), params, mu, reg)[0]


def gradient(ratings: Ratings, params: dict, reg: float = 0.0, mu: float = 0.0) -> dict:
    """The exact gradient of ``loss`` with respect to every parameter array, by backpropagation."""
    _check_params(params, check_ratings("ratings", ratings))
    data = _Data(ratings)
    return _batch_gradient(data, params, mu, reg, np.arange(data.n_ratings))


class NCF(Recommender):
    r"""Neural collaborative filtering for explicit ratings (eq. (2)-(5) of the KDD 2019 FIA
    paper, He et al. 2017): r_hat_ui = mu + MLP(p_u (+) q_i), trained by Adam on mini-batches
    of the mean squared error plus a ridge penalty (module docstring).

    A ``Recommender`` (``get_params``, ``rmse``, ``recommend`` are the shared ones) but not a
    ``FactorModel``: its predictions come from the network, not from U V^T.

    Parameters
    ----------
    embedding_dim : int
        d, the length of p_u and q_i (the MLP's input has 2d units).
    hidden : tuple of int
        Sizes of the ReLU hidden layers W_1 ... W_X (at least one).
    reg : float
        lambda, the ridge penalty of the summed objective (same meaning as in ``ALS``); it
        applies to the embeddings and to every weight and bias of the network. The default was
        chosen on a validation split of MovieLens 100K (benchmarks/bench_fia_ncf.py); the
        embeddings feed a network, so it is larger than ALS's lambda for the same data.
    lr : float
        Adam's learning rate.
    n_epochs : int
        Passes over the shuffled training ratings.
    batch_size : int
        Ratings per Adam step.
    init_scale : float
        Standard deviation of the normal initial embeddings. The hidden weights start from He
        initialization (normal, variance 2 / fan-in), w_out from variance 1 / fan-in, the
        biases at 0.
    seed : int
        Seeds the initialization and the order of the mini-batches: same seed, same numbers.
    verbose : bool
        A tqdm progress bar over the epochs.

    Attributes
    ----------
    params_ : dict
        The parameter arrays in the order of ``param_names``: P (m x d), Q (n x d), W_l
        (h_l x h_{l-1}), b_l (h_l,), w_out (h_X,), b_out (1,).
    P_, Q_, weights_, biases_, w_out_, b_out_
        Views of the same arrays (lists for the W_l and b_l; b_out_ a float).
    mu_ : float
        The fixed offset (mean training rating; kept on a warm start).
    adam_state_ : dict
        Adam's step count and moment estimates; a warm start continues them.
    history_ : DataFrame
        One row per epoch (0 = the initial point): epoch, loss (L), train_rmse, [test_rmse],
        seconds (cumulative training time, evaluation excluded).
    ratings_ : Ratings

    Raises
    ------
    DivergenceError
        When the loss becomes non-finite or grows 1000-fold (the learning rate is too large).
    """

    def __init__(self, embedding_dim: int = 16, hidden=(32, 16), reg: float = 100.0, lr: float = 1e-3,
                 n_epochs: int = 20, batch_size: int = 256, init_scale: float = 0.1, seed: int = 0,
                 verbose: bool = False):
        self.embedding_dim = embedding_dim
        self.hidden = hidden
        self.reg = reg
        self.lr = lr
        self.n_epochs = n_epochs
        self.batch_size = batch_size
        self.init_scale = init_scale
        self.seed = seed
        self.verbose = verbose

    # ------------------------------------------------------------------ fitted state
    @property
    def shape(self) -> tuple[int, int]:
        check_fitted(self)
        return (self.params_["P"].shape[0], self.params_["Q"].shape[0])

    P_ = property(lambda self: self.params_["P"], doc="User embeddings p_u (m x d).")
    Q_ = property(lambda self: self.params_["Q"], doc="Item embeddings q_i (n x d).")
    weights_ = property(lambda self: [self.params_[f"W{l}"] for l in range(1, _n_hidden(self.params_) + 1)])
    biases_ = property(lambda self: [self.params_[f"b{l}"] for l in range(1, _n_hidden(self.params_) + 1)])
    w_out_ = property(lambda self: self.params_["w_out"])
    b_out_ = property(lambda self: float(self.params_["b_out"][0]))

    # ------------------------------------------------------------------ set-up
    def _validated(self, n_ratings: int):
        d = check_positive_int("embedding_dim", self.embedding_dim)
        hidden = self.hidden
        if isinstance(hidden, numbers.Integral):
            hidden = (hidden,)
        if not isinstance(hidden, (tuple, list)) or len(hidden) == 0:
            raise ValueError(f"hidden must be a non-empty tuple of layer sizes, got {self.hidden!r}")
        hidden = tuple(check_positive_int("hidden layer size", h) for h in hidden)
        reg = check_non_negative("reg", self.reg)
        lr = check_positive("lr", self.lr)
        n_epochs = check_positive_int("n_epochs", self.n_epochs)
        batch_size = min(check_positive_int("batch_size", self.batch_size), n_ratings)
        check_non_negative("init_scale", self.init_scale)
        return d, hidden, reg, lr, n_epochs, batch_size

    def _initial_params(self, m: int, n: int, d: int, hidden, rng) -> dict:
        params = {"P": rng.normal(0.0, self.init_scale, (m, d)), "Q": rng.normal(0.0, self.init_scale, (n, d))}
        fan_in = 2 * d
        for l, size in enumerate(hidden, start=1):
            params[f"W{l}"] = rng.normal(0.0, math.sqrt(2.0 / fan_in), (size, fan_in))  # He
            params[f"b{l}"] = np.zeros(size)
            fan_in = size
        params["w_out"] = rng.normal(0.0, math.sqrt(1.0 / fan_in), fan_in)
        params["b_out"] = np.zeros(1)
        return params

    def _warm_start(self, init, m: int, n: int, d: int, hidden):
        if not isinstance(init, NCF):
            raise TypeError(f"init must be a fitted NCF, got {type(init).__name__}")
        check_fitted(init)
        for name, shape in _param_shapes(m, n, d, hidden).items():
            if name not in init.params_ or init.params_[name].shape != shape:
                raise ValueError(f"init does not match this model: {name} should have shape {shape}, got "
                                 f"{init.params_[name].shape if name in init.params_ else 'nothing'} (same "
                                 f"embedding_dim, hidden and ratings shape needed)")
        params = {name: value.copy() for name, value in init.params_.items()}
        state = init.adam_state_
        return params, init.mu_, {"t": state["t"], "m": {k: v.copy() for k, v in state["m"].items()},
                                  "v": {k: v.copy() for k, v in state["v"].items()}}

    # ------------------------------------------------------------------ fit
    def fit(self, ratings: Ratings, eval_set: Ratings | None = None, init=None, sample_weight=None) -> "NCF":
        r"""Learn the embeddings and the network from ``ratings``; ``eval_set`` is scored every epoch.

        Parameters
        ----------
        ratings : Ratings
            The training ratings Omega.
        eval_set : Ratings, optional
            Scored every epoch (``history_["test_rmse"]``); same shape as ``ratings``.
        init : NCF, optional
            A fitted NCF of the same architecture to warm-start from: its parameters, its mu_
            and its Adam state are continued (e.g. to retrain after removing a rating).
        sample_weight : array_like, optional
            One finite weight w_ui >= 0 per training rating, in the order of ``ratings``
            (``ratings.rows``, ``ratings.cols``); None means all ones. The fit minimizes
            L_w = (1/|Omega|) [sum_Omega w_ui (r_ui - r_hat_ui)^2 + lambda (||P||^2 + ||Q||^2
            + ||theta_n||^2)] (the module's L with weighted squared errors), and a fresh fit's
            mu is the weighted mean rating. A weight of 0 drops the rating while keeping its
            position, so a retrain without some ratings draws the same mini-batches as one
            with them (leave-one-out validation, ``mt.explain.validate_fia_ncf``).

        Returns
        -------
        NCF
            ``self``, fitted.
        """
        check_ratings("ratings", ratings)
        if eval_set is not None:
            check_ratings("eval_set", eval_set, ratings.shape)
        data = _Data(ratings, _check_sample_weight(sample_weight, len(ratings)))
        d, hidden, reg, lr, n_epochs, batch_size = self._validated(data.n_ratings)
        rng = np.random.default_rng(self.seed)
        m, n = ratings.shape
        if init is None:
            params = self._initial_params(m, n, d, hidden, rng)
            mu = mean_rating(data.values, "NCF", data.weights)
            adam = {"t": 0, "m": {k: np.zeros_like(v) for k, v in params.items()},
                    "v": {k: np.zeros_like(v) for k, v in params.items()}}
        else:
            params, mu, adam = self._warm_start(init, m, n, d, hidden)

        epochs = range(1, n_epochs + 1)
        if self.verbose:
            from tqdm.auto import tqdm

            epochs = tqdm(epochs, desc="NCF", unit="epoch")
        with np.errstate(over="ignore", invalid="ignore"):
            records, seconds = [self._record(data, params, mu, reg, 0, 0.0, eval_set)], 0.0
            for epoch in epochs:
                start = time.perf_counter()
                order = rng.permutation(data.n_ratings)
                for first in range(0, data.n_ratings, batch_size):
                    grads = _batch_gradient(data, params, mu, reg, order[first:first + batch_size])
                    _adam_step(params, grads, adam, lr)
                seconds += time.perf_counter() - start
                records.append(self._record(data, params, mu, reg, epoch, seconds, eval_set))
                self._stop_if_diverged(records, lr, data.values, init is None)
        self.params_, self.mu_, self.adam_state_ = params, mu, adam
        remember_training(self, ratings)
        self.history_ = pd.DataFrame(records)
        return self

    def _record(self, data, params, mu, reg, epoch, seconds, eval_set) -> dict:
        objective, train_rmse = _objective(data, params, mu, reg)
        record = {"epoch": epoch, "loss": objective, "train_rmse": train_rmse}
        if eval_set is not None:
            errors = eval_set.values - forward(params, eval_set.rows, eval_set.cols, mu)[0]
            record["test_rmse"] = math.sqrt(float(np.mean(errors**2)))
        record["seconds"] = seconds
        return record

    def _stop_if_diverged(self, records: list, lr: float, values=None, fresh: bool = True) -> None:
        stop_if_diverged(records, lr, "NCF", values=values, init_scale=self.init_scale if fresh else None)

    # ------------------------------------------------------------------ prediction
    def predict(self, rows, cols) -> np.ndarray:
        """r_hat_ui for the pairs (rows[k], cols[k]) (row and column indices), eq. (3)-(5)."""
        check_fitted(self)
        rows, cols = check_pairs(rows, cols, self.shape)
        return forward(self.params_, rows.ravel(), cols.ravel(), self.mu_)[0].reshape(rows.shape)

    def predict_matrix(self, chunk: int = 64) -> np.ndarray:
        """The full m x n matrix of predictions, ``chunk`` users at a time. The first layer is
        split as W_1 (p (+) q) = W_1^p p + W_1^q q, so it costs (m + n) d h_1, not m n d h_1."""
        check_fitted(self)
        params, (m, n) = self.params_, self.shape
        d = params["P"].shape[1]
        user_part = params["P"] @ params["W1"][:, :d].T + params["b1"]
        item_part = params["Q"] @ params["W1"][:, d:].T
        out = np.empty((m, n))
        for start in range(0, m, chunk):
            z = np.maximum(user_part[start:start + chunk, None, :] + item_part[None, :, :], 0.0)
            for l in range(2, _n_hidden(params) + 1):
                z = np.maximum(z @ params[f"W{l}"].T + params[f"b{l}"], 0.0)
            out[start:start + chunk] = self.mu_ + z @ params["w_out"] + params["b_out"][0]
        return out


def _adam_step(params: dict, grads: dict, state: dict, lr: float) -> None:
    """One Adam step on every parameter array, in place (Kingma and Ba 2015, Algorithm 1, in
    the cheaper form given after it: the bias corrections folded into the step size)."""
    beta1, beta2 = ADAM_BETAS
    state["t"] += 1
    t = state["t"]
    step = lr * math.sqrt(1.0 - beta2**t) / (1.0 - beta1**t)  # the bias corrections of m and v
    for name, g in grads.items():
        m, v = state["m"][name], state["v"][name]
        m *= beta1
        m += (1.0 - beta1) * g
        v *= beta2
        v += (1.0 - beta2) * g * g
        params[name] -= step * m / (np.sqrt(v) + ADAM_EPS)
