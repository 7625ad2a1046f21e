"""Lessons 15 and 17's explanation explorers: the whole update of each control (compute + tables
or figure + Output), at the lessons' settings.

* Lesson 15's FIA explorer (``fia_explorer``): MovieLens 100K's 250 most active users x 250 most
  rated movies, one held-out rating per user (seed 0), ALS k = 8, lambda = 10 to a relative
  decrease of 1e-9; the user slider (which refills the movie list), the movie list, and the
  "verify" button (neighbourhood retraining of the top rating).
* Lesson 17's MF/NCF explorer (``ncf_explorer``): the 200 x 300 slice split 90/10 (seed 0),
  biased ALS (k = 16, lambda = 10, 15 iterations) and NCF (d = 16, hidden 32-16, lambda = 20, 15
  epochs); the user slider and the movie list (a pair already explained is drawn from its cache,
  so every timed change shows a pair not shown before).
"""

from __future__ import annotations

import time

from harness import Row, control_row, timed_row

import mfteach as mt
from mfteach.ncf import NCF
from mfteach.widgets import fia_explorer, ncf_explorer

TOPIC = "fia_explorers"
NCF_SETTINGS = dict(embedding_dim=16, hidden=(32, 16), reg=20.0, lr=3e-3, batch_size=1024, seed=0, n_epochs=15)


def _fia_rows() -> list[Row]:
    data = mt.load_movielens("100k").top(n_users=250, n_items=250)
    train, test = data.split(how="leave_one_out", seed=0)
    model = mt.ALS(rank=8, reg=10.0, n_iters=1000, tol=1e-9, seed=0).fit(train)
    user = int(test.rows[0])
    box = fia_explorer(model, train, user=user, item=int(model.recommend(user, n=1)["item"].iloc[0]))
    users = [value for _, value in box.user.options][:12]
    rows = [control_row(TOPIC, "lesson 15 FIA explorer: user slider (whole update, movie list refilled)",
                        box.user, users, out=box.out, detail="FIA frame, both tables and the sentence; a new user "
                                                             "each change (12 users cycled)")]
    items = [value for _, value in box.item.options][:12]  # the movies of the user the slider stopped at
    rows.append(control_row(TOPIC, "lesson 15 FIA explorer: movie list (whole update)", box.item, items, out=box.out,
                            detail="a new movie of the same user each change (12 cycled)"))
    result = box.result

    def press():
        before = result.value
        box.verify.click()
        if result.value == before:
            raise RuntimeError("verify did not change the result")
        result.value = ""  # the next press must write it again

    rows.append(timed_row(TOPIC, "lesson 15 FIA explorer: verify button (neighbourhood retraining of the top rating)",
                          press, repeats=11, target_max=100.0,
                          detail="local_retrain, one hop, 3 sweeps + Aitken, on the model's cached block Grams"))
    return rows


def _ncf_rows() -> list[Row]:
    ratings = mt.load_movielens("100k").top(200, 300)
    train, test = ratings.split(test_size=0.1, seed=0)
    als = mt.ALS(rank=16, reg=10.0, n_iters=15, biased=True, seed=0).fit(train)
    ncf = NCF(**NCF_SETTINGS).fit(train)
    box = ncf_explorer(als, ncf, train)
    users = [value for _, value in box.user.options][:40]
    start = time.perf_counter()
    row_user = control_row(TOPIC, "lesson 17 MF/NCF explorer: user slider (whole update, movie list refilled)",
                           box.user, users, out=box.out, repeats=21,
                           detail="FIA for MF and FIA-NCF (eq. 24) for the user's first movie, both tables and the "
                                  "figure; 40 users, each shown once (none cached)")
    items = [value for _, value in box.item.options]
    # each movie once: the explorer keeps the pairs it has shown, and a second visit would time the cache
    row_item = control_row(TOPIC, "lesson 17 MF/NCF explorer: movie list (whole update)", box.item, items,
                           out=box.out, repeats=len(items) - 2, warmup=1,
                           detail=f"every other movie of the user's list once ({len(items) - 1} changes, none cached)")
    return [row_user, row_item, Row(TOPIC, "lesson 17 explorer benchmark wall time", time.perf_counter() - start,
                                    "s", detail="both controls, warm-up included")]


def run() -> list[Row]:
    return _fia_rows() + _ncf_rows()


if __name__ == "__main__":
    for row in run():
        print(row)
