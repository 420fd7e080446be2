"""The same fit gives the same bits whether numba compiled the kernels or loaded its cache.

``fastmath`` lets LLVM fuse products into FMAs where it sees fit, and what it sees depends
on how the kernels are linked: a kernel split into calls was once compiled one way fresh
and another way into the cache, so ALS results differed in the last bit between the
first run after an install and every later one. Two subprocesses share an empty
``NUMBA_CACHE_DIR``: the first compiles (and writes the cache), the second loads it.
"""

import os
import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    """
    import hashlib
    import numpy as np
    from fmlearn import FMClassifier, FMOrdinalRegressor, FMRegressor
    from fmlearn.datasets import make_recommendation

    X, y, _ = make_recommendation(n_samples=400, n_users=20, n_items=15, n_contexts=3,
                                  noise=0.5, random_state=1)
    labels = (y > np.median(y)).astype(int)
    stars = np.clip(np.round(y - y.mean() + 3), 1, 5).astype(int)
    fits = []
    for solver in ("als", "mcmc"):
        for update in ("scalar", "block"):
            kw = dict(n_factors=3, solver=solver, factor_update=update, max_iter=4,
                      random_state=0)
            fits.append(FMRegressor(**kw).fit(X, y).predict(X))
            fits.append(FMClassifier(**kw).fit(X, labels).predict_proba(X))
    fits.append(FMOrdinalRegressor(n_factors=3, max_iter=4, random_state=0)
                .fit(X, stars).predict(X))
    for out in fits:
        print(hashlib.sha1(np.ascontiguousarray(out, np.float64).tobytes()).hexdigest())
    """
)


def _run(cache_dir) -> list[str]:
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache_dir), "NUMBA_DISABLE_JIT": "0"}
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.split()


def test_fresh_compilation_and_cache_agree(tmp_path):
    fresh = _run(tmp_path)
    assert len(fresh) == 9
    cached = _run(tmp_path)
    assert any(tmp_path.rglob("*.nbi")), "the first run wrote no numba cache"
    assert cached == fresh
