"""Lesson 09's exercises and questions (09_comparison_and_embeddings): the find-out on the item-bias
penalty, the cosine neighbours of an item, the three check-your-understanding questions, and the
settings this lesson takes over from lesson 08 (chosen there on validation)."""

import json
import re
from pathlib import Path

import numpy as np
import pytest

import mfteach as mt
from mfteach.embeddings import cosine_neighbors
from mfteach.exercises import EXERCISES, QUESTIONS, answer, check
from mfteach.exercises.lesson09 import ITEM_REGS, best_item_reg, similar_items

LESSON = "09_comparison_and_embeddings"
LESSONS = Path(__file__).resolve().parents[1] / "lessons"
NOTEBOOK = LESSONS / f"{LESSON}.ipynb"
OURS = ["best_item_reg", "similar_items"]


@pytest.fixture(autouse=True)
def _private_progress(exercise_state):
    return exercise_state


def _notebook_cells(path=NOTEBOOK):
    return json.loads(path.read_text())["cells"]


def _verdict(capsys, name, fn):
    ok = check(name, fn)
    return ok, capsys.readouterr().out


# ---------------------------------------------------------------------------- registration and lesson
def test_registered_in_the_order_of_the_lesson():
    mine = [name for name, ex in EXERCISES.items() if ex.lesson == LESSON]
    assert mine == OURS
    for name in OURS:
        assert len(EXERCISES[name].hints) >= 3 and len(EXERCISES[name].diagnostics) >= 2
    assert [name for name, q in QUESTIONS.items() if q.lesson == LESSON] == [
        "q09_test_protocol", "q09_scaled_vector", "q09_cold_start"]


def test_the_lesson_checks_every_exercise_and_shows_the_quiz():
    sources = ["".join(c["source"]) for c in _notebook_cells() if c["cell_type"] == "code"]
    checked = [s.split()[1] for s in sources if s.startswith("%%check")]
    assert checked == OURS
    assert any(f'mt.exercises.quiz("{LESSON}")' in s for s in sources)
    assert not any(re.search(r"\b(hint|solution)\(", s) for s in sources)


def _outputs_text(cells):
    return "".join("".join(o.get("text", "")) + "".join(o.get("data", {}).get("text/plain", ""))
                   for c in cells if c["cell_type"] == "code" for o in c.get("outputs", []))


def test_the_settings_taken_over_are_the_ones_lesson_08_chose_on_validation():
    """Lesson 09 restates lesson 08's validation choices instead of recomputing them: they must agree
    with lesson 08's stored outputs, in the code and in the recap."""
    lesson08 = _outputs_text(_notebook_cells(LESSONS / "08_svd_and_biases.ipynb"))
    impute, k = re.search(r"chosen on validation: impute='(\w+)', k=(\d+)", lesson08).groups()
    reg, epochs = re.search(r"lambda = ([\d.]+) after (\d+) epochs \(early stopping\)", lesson08).groups()
    cells = _notebook_cells()
    code = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
    assert f'best_impute, best_k = "{impute}", {k}' in code
    assert re.search(rf"refine_reg, refine_epochs = {float(reg)}, {epochs}\b", code)
    recap = " ".join("".join(cells[0]["source"]).split())          # line breaks do not matter
    assert f"$k={k}$" in recap and f"$\\lambda={reg}$ and early stopping after {epochs} epochs" in recap
    scores = re.search(r"global mean mu\s+([\d.]+)\nbiases only mu \+ b_u \+ c_i\s+([\d.]+)", lesson08).groups()
    assert f"from {float(scores[0]):.2f} to {float(scores[1]):.2f} stars" in recap


def test_the_test_set_is_scored_only_by_the_final_models():
    """Hyperparameters are chosen on `val`: between the set-up and the final fits no code uses `test`."""
    sources = ["".join(c["source"]) for c in _notebook_cells() if c["cell_type"] == "code"]
    setup = next(i for i, s in enumerate(sources) if "train, test = ml.split" in s)
    final = next(i for i, s in enumerate(sources) if "final fits" in s)
    assert setup < final
    for s in sources[setup + 1:final]:
        code = "\n".join(line.split("#")[0] for line in s.splitlines())
        assert not re.search(r"\btest\b", code), s
        assert "eval_set" not in code


# ---------------------------------------------------------------------------- best_item_reg
def _own_biases_rmse(train, valid, reg_user, reg_item, n_iters=10):
    """Validation RMSE of the biases-only model fitted by np.add.at sums (not mt.Baseline)."""
    mu = train.values.mean()
    m, n = train.shape
    b, c = np.zeros(m), np.zeros(n)
    for _ in range(n_iters):
        sums = np.zeros(n)
        np.add.at(sums, train.cols, train.values - mu - b[train.rows])
        denominator = reg_item + train.item_counts()          # 0 for an unrated item when reg_item = 0:
        c = np.divide(sums, denominator, out=np.zeros(n), where=denominator > 0)   # its bias stays 0
        sums = np.zeros(m)
        np.add.at(sums, train.rows, train.values - mu - c[train.cols])
        b = sums / (reg_user + train.user_counts())
    e = valid.values - mu - b[valid.rows] - c[valid.cols]
    return np.sqrt(np.mean(e ** 2))


def test_best_item_reg_finds_what_the_lesson_says(ml100k):
    fit, val = ml100k.split(0.2, seed=0)[0].split(0.1, seed=1)     # the lesson's split
    chosen = best_item_reg(fit, val, ITEM_REGS)
    scores = {reg: mt.Baseline(reg_user=15, reg_item=reg).fit(fit).rmse(val) for reg in ITEM_REGS}
    assert chosen == min(scores, key=scores.get)
    text = "".join("".join(c["source"]) for c in _notebook_cells() if c["cell_type"] == "markdown")
    said = re.search(r"prefers a smaller item penalty, \$\\lambda_i=(\d+)\$", text)
    assert said and float(said.group(1)) == chosen
    assert f"validation RMSE {scores[chosen]:.3f} against {scores[10.0]:.3f}" in text


def test_best_item_reg_agrees_with_an_independent_fit():
    """On the synthetic cases, a biases-only model fitted independently picks the same λ_i (MovieLens:
    test_best_item_reg_finds_what_the_lesson_says)."""
    for train, valid, regs in EXERCISES["best_item_reg"].cases():
        if train.item_titles is not None:
            continue
        own = [_own_biases_rmse(train, valid, 15.0, reg) for reg in regs]
        assert best_item_reg(train, valid, regs) == regs[int(np.argmin(own))]


def test_best_item_reg_cannot_be_hard_coded():
    answers = [best_item_reg(*case) for case in EXERCISES["best_item_reg"].cases()]
    assert len(set(answers)) >= 3


@pytest.mark.parametrize("wrong, words", [
    (lambda train, valid, regs: regs[int(np.argmin([mt.Baseline(reg_item=r).fit(train).rmse(train) for r in regs]))],
     "TRAINING ratings"),
    (lambda train, valid, regs: int(np.argmin([mt.Baseline(reg_item=r).fit(train).rmse(valid) for r in regs])),
     "position of the best"),
])
def test_best_item_reg_mistakes_are_named(capsys, wrong, words):
    ok, out = _verdict(capsys, "best_item_reg", wrong)
    assert not ok and words in out, out


# ---------------------------------------------------------------------------- similar_items
def test_similar_items_equals_the_package_cosine_neighbors():
    for V, item, n, allowed in EXERCISES["similar_items"].cases():
        items, sims = cosine_neighbors(V, item, n=n, candidates=allowed)
        np.testing.assert_array_equal(similar_items(V, item, n, allowed), items)
        assert np.all(np.diff(sims) <= 0)


def test_similar_items_on_movielens_vectors(ml100k):
    """The lesson's use: Star Wars among the movies with at least 20 ratings (a biased ALS, briefly)."""
    train, _ = ml100k.split(0.2, seed=0)
    V = mt.ALS(rank=10, reg=10.0, n_iters=3, biased=True).fit(train).V_
    counts = train.item_counts()
    star_wars = int(np.flatnonzero(ml100k.item_titles == "Star Wars (1977)")[0])
    top = similar_items(V, star_wars, 8, counts >= 20)
    np.testing.assert_array_equal(top, cosine_neighbors(V, star_wars, n=8, candidates=counts >= 20)[0])
    assert star_wars not in top and (counts[top] >= 20).all()


def test_similar_items_cases_make_the_mistakes_differ():
    """Lengths vary, zero vectors are allowed, the query is allowed: each slip changes the answer, and
    ranking by inner product or distance gives the same list with or without the zero vectors."""
    cases = EXERCISES["similar_items"].cases()
    for V, item, n, allowed in cases:
        norms = np.linalg.norm(V, axis=1)
        assert allowed[item] and (allowed & (norms == 0)).any() and norms[item] > 0
        assert n <= (allowed & (norms > 0)).sum() - 1
        for score in (V @ V[item], -np.linalg.norm(V - V[item], axis=1)):
            with_zeros = np.flatnonzero(allowed & (np.arange(len(V)) != item))
            without = with_zeros[norms[with_zeros] > 0]
            top = lambda c: c[np.argsort(-score[c], kind="stable")[:n]]
            np.testing.assert_array_equal(top(with_zeros), top(without))


def test_similar_items_correct_variants_pass(capsys):
    def loop(V, item, n, allowed):
        found = []
        for j in range(len(V)):
            length = np.linalg.norm(V[j])
            if allowed[j] and j != item and length > 0:
                found.append((-(V[j] @ V[item]) / (length * np.linalg.norm(V[item])), j))
        return np.array([j for _, j in sorted(found)[:n]])

    def candidates_normalized_only(V, item, n, allowed):      # dividing by ||v_item|| changes no order
        norms = np.linalg.norm(V, axis=1)
        score = np.divide(V @ V[item], norms, out=np.full(len(V), -np.inf), where=norms > 0)
        score[item] = -np.inf
        score[~np.asarray(allowed)] = -np.inf
        return np.argsort(-score, kind="stable")[:n]

    assert check("similar_items", loop)
    assert check("similar_items", candidates_normalized_only)


@pytest.mark.parametrize("wrong, words", [
    (lambda V, i, n, a: np.flatnonzero(a & (np.arange(len(V)) != i))[np.argsort(-(V @ V[i])[a & (np.arange(len(V)) != i)])[:n]],
     "inner product"),
    (lambda V, i, n, a: np.argsort(np.linalg.norm(V - V[i], axis=1) + np.where(a & (np.arange(len(V)) != i), 0, np.inf))[:n],
     "Euclidean distance"),
    (lambda V, i, n, a: np.array([j for j in np.argsort(-(V @ V[i]) / np.linalg.norm(V, axis=1)) if a[j]][:n]),
     "query item is in your list"),
    (lambda V, i, n, a: np.array([j for j in np.argsort(V @ V[i] / np.linalg.norm(V, axis=1) / np.linalg.norm(V[i]))
                                  [::-1] if a[j] and j != i][:n]),
     "zero vector came first"),
])
def test_similar_items_mistakes_are_named(capsys, wrong, words):
    with np.errstate(all="ignore"):
        ok, out = _verdict(capsys, "similar_items", wrong)
    assert not ok and words in out, out


# ---------------------------------------------------------------------------- questions
@pytest.mark.parametrize("name, right, wrongs", [
    ("q09_test_protocol", 1, [0, 2, 3]),
    ("q09_scaled_vector", 1, [0, 2, 3]),
    ("q09_cold_start", 0, [1, 2, 3]),
])
def test_questions(capsys, name, right, wrongs):
    assert QUESTIONS[name].lesson == LESSON
    for value in wrongs:
        assert not answer(name, value)
    assert answer(name, right)
