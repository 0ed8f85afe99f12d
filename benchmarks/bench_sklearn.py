"""digitlab in the scikit-learn ecosystem, measured: arrays that are not MNIST, the estimator's
checks and a grid search.

1. ``load_digits``: scikit-learn's 1,797 8×8 digits (64 features scaled to [0, 1], 10 classes),
   a stratified quarter held out per seed; ``MLPClassifier`` with its defaults (one hidden
   layer of 100 ReLU units, Adam, 20 epochs) and ``dl.train(X, y, preset="report",
   hidden=[256], epochs=20)`` (its own held-out tenth). Test accuracy, mean ± std over seeds.
2. ``check_estimator`` on the estimator of ``tests/test_sklearn.py`` on the engine chosen
   (the test takes the reference engine): passed / skipped / failed counts and seconds.
3. ``GridSearchCV`` over ``hidden`` × ``lr`` (2 × 2, 3-fold) on the first 2,000 training digits
   of the embedded sample, 5 epochs: seconds and the best point.

    python benchmarks/bench_sklearn.py [--seeds 3] [--engine fused|reference]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import Counter

from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.utils.estimator_checks import check_estimator

import digitlab as dl
from digitlab.sklearn import MLPClassifier


def digits_accuracy(seeds: int, engine: str | None) -> None:
    digits = load_digits()
    X, y = digits.data / 16.0, digits.target
    estimator, trained = [], []
    start = time.perf_counter()
    for seed in range(seeds):
        X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, stratify=y,
                                                            random_state=seed)
        model = MLPClassifier(random_state=seed, engine=engine).fit(X_train, y_train)
        estimator.append(model.score(X_test, y_test))
        run = dl.train(X, y, preset="report", hidden=[256], epochs=20, seed=seed,
                       progress=False, **({"engine": engine} if engine else {}))
        trained.append(run.evaluation.accuracy)
    seconds = time.perf_counter() - start
    for name, scores in (("MLPClassifier() on a quarter held out", estimator),
                         ("dl.train(X, y, preset='report', hidden=[256], epochs=20)", trained)):
        print(f"load_digits, {name}: test accuracy {statistics.mean(scores):.4f} ± "
              f"{statistics.pstdev(scores):.4f} over seeds 0..{seeds - 1} "
              f"({', '.join(f'{s:.4f}' for s in scores)})")
    print(f"  ({seconds:.1f} s for both)")


def estimator_checks(engine: str | None) -> None:
    start = time.perf_counter()
    results = check_estimator(MLPClassifier(hidden=(16,), epochs=10, lr=0.01, engine=engine),
                              on_fail=None)
    seconds = time.perf_counter() - start
    counts = Counter(r["status"] for r in results)
    print(f"check_estimator ({engine or 'fused'} engine): {dict(counts)} in {seconds:.1f} s")
    for result in results:
        if result["status"] != "passed":
            print(f"  {result['check_name']}: {result['status']} ({result['exception']})")


def grid_search(engine: str | None) -> None:
    data = dl.load_dataset()
    images, labels = data.train.images[:2000], data.train.labels[:2000]
    search = GridSearchCV(MLPClassifier(epochs=5, random_state=0, engine=engine),
                          {"hidden": [(32,), (128,)], "lr": [1e-3, 1e-2]}, cv=3)
    start = time.perf_counter()
    search.fit(images, labels)
    seconds = time.perf_counter() - start
    print(f"GridSearchCV, hidden x lr (2 x 2, 3-fold, 12 fits + the refit) on 2,000 digits, "
          f"5 epochs: {seconds:.1f} s; best {search.best_params_} (cv accuracy "
          f"{search.best_score_:.4f}, test {search.score(data.test.images, data.test.labels):.4f})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--engine", choices=("fused", "reference"), default=None,
                        help="the engine of every network (default: the config's, fused)")
    args = parser.parse_args()
    digits_accuracy(args.seeds, args.engine)
    estimator_checks(args.engine)
    grid_search(args.engine)
    return 0


if __name__ == "__main__":
    sys.exit(main())
