"""
Context-aware top-N recommendation: the best apps for one user, morning vs. evening
===================================================================================

An FM scores (user, item, context) rows, so "what should this user open now?" is one
prediction per candidate app with the user's current context filled in. The encoder
turns the query into the same feature space as training; ``fmlearn.recommend.recommend``
scores all candidates in one vectorised call and returns the best N.

For this user the apps they like most lead in both contexts: the user × app terms
outweigh the app × context ones. What the context does is reorder the rest, so the
example also prints the apps the evening promotes and demotes most against the morning
(the change in the model's logit for the same user and app).

    python examples/top_n_recommendation.py [--quick]

Needs ../shared/data/frappe/Mobile_Frappe.zip (see examples/frappe_grid_search.py).
"""

from __future__ import annotations

import argparse
import importlib.util
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

from fmlearn import FMClassifier, FMEncoder
from fmlearn.recommend import recommend

# sphinx-gallery runs the examples from this folder, without __file__
EXAMPLES = Path(__file__).resolve().parent if "__file__" in globals() else Path.cwd()


def _frappe_loader():
    spec = importlib.util.spec_from_file_location("frappe", EXAMPLES / "frappe_grid_search.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run(n_positives: int | None = None, n: int = 5, seed: int = 0) -> dict:
    frappe = _frappe_loader()
    frame, label = frappe.load_frappe(n_positives=n_positives, seed=seed)
    encoder = FMEncoder(categorical=["user", "item", "city"]).fit(frame)
    model = FMClassifier(n_factors=16, reg_factors=0.01, max_iter=8, random_state=seed)
    model.fit(encoder.transform(frame), label)

    user = int(frame["user"].value_counts().index[0])  # the most active user
    usual = frame[(frame["user"] == user) & (label == 1)].iloc[0]
    items = np.sort(frame["item"].unique())
    # candidate rows hold only the item; the query row holds the user and context
    candidates = encoder.transform(pd.DataFrame({"item": items}).reindex(columns=frame.columns))
    seen = frame.loc[(frame["user"] == user) & (label == 1), "item"].unique()
    lists, logits = {}, {}
    for daytime, weekday in (("morning", "monday"), ("evening", "saturday")):
        query = usual.to_dict() | {"item": None, "daytime": daytime, "weekday": weekday}
        query["isweekend"] = "weekend" if weekday in ("saturday", "sunday") else "workday"
        context = encoder.transform(pd.DataFrame([query]))
        top, scores = recommend(model, context, candidates, n, ids=items, exclude=seen)
        lists[f"{daytime}, {weekday}"] = list(zip(top.tolist(), scores.tolist(), strict=True))
        every, p = recommend(model, context, candidates, len(items), ids=items, exclude=seen)
        order = np.argsort(every)
        logits[daytime] = np.log(p[order]) - np.log1p(-p[order])  # by app id
        unseen = every[order]
    change = logits["evening"] - logits["morning"]
    ranked = np.argsort(change)
    moves = {
        "evening promotes": [(int(unseen[j]), float(change[j])) for j in ranked[::-1][:3]],
        "evening demotes": [(int(unseen[j]), float(change[j])) for j in ranked[:3]],
    }
    return {"user": user, "n_seen": len(seen), "lists": lists, "moves": moves,
            "names": _app_names(frappe.ARCHIVE)}  # fmt: skip


def _app_names(archive: Path) -> dict:
    with zipfile.ZipFile(archive) as zf, zf.open("Mobile_Frappe/frappe/meta.csv") as fh:
        meta = pd.read_csv(fh, sep="\t", usecols=["item", "name"])
    return dict(zip(meta["item"], meta["name"], strict=True))


def main() -> None:
    parser = argparse.ArgumentParser(
        description="Context-aware top-N recommendation: the best apps for one user, "
        "morning vs. evening"
    )
    parser.add_argument("--quick", action="store_true", help="40,000 logged positives")
    args = parser.parse_args()
    if not _frappe_loader().ARCHIVE.exists():
        raise SystemExit("This example needs ../shared/data/frappe/Mobile_Frappe.zip.")
    result = run(40_000 if args.quick else None)
    print(f"user {result['user']} (apps already used, excluded: {result['n_seen']})")
    for context, ranked in result["lists"].items():
        print(f"  {context}:")
        for item, p in ranked:
            print(f"    {p:.2f}  {result['names'].get(item, f'app {item}')}")
    print("  the context at work (change of the logit, evening vs. morning):")
    for label, apps in result["moves"].items():
        named = ", ".join(f"{result['names'].get(i, f'app {i}')} ({d:+.2f})" for i, d in apps)
        print(f"    {label}: {named}")


if __name__ == "__main__":
    main()
