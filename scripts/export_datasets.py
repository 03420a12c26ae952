#!/usr/bin/env python3
"""Export the small real datasets that lossbench ships in datasets/ (run from the repo root).

Source: scikit-learn's bundled copies (sklearn.datasets.load_*), which need no network.
Each CSV has a header row; the last column is the target (`label` for classification,
`target` for regression). Values are written with repr() so they round-trip exactly.
Prints the SHA-256 of every file for datasets/README.md.

    python3 -m venv .venv && .venv/bin/pip install -r scripts/requirements.txt
    .venv/bin/python scripts/export_datasets.py
"""
import hashlib
import pathlib

import sklearn
from sklearn import datasets

OUT = pathlib.Path("datasets")


def fmt(v):
    f = float(v)
    return str(int(f)) if f.is_integer() else repr(f)


def export(name, bunch, target_name):
    rows = bunch.data
    cols = [f"x{i}" for i in range(rows.shape[1])] if name == "digits" else [
        str(c).replace(" ", "_") for c in bunch.feature_names
    ]
    path = OUT / f"{name}.csv"
    with path.open("w", newline="\n") as f:
        f.write(",".join(cols + [target_name]) + "\n")
        for x, y in zip(rows, bunch.target):
            f.write(",".join(fmt(v) for v in x) + "," + fmt(y) + "\n")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    print(f"{path}\t{rows.shape[0]}x{rows.shape[1]}\tsha256 {digest}")


def main():
    OUT.mkdir(exist_ok=True)
    print(f"scikit-learn {sklearn.__version__}")
    export("iris", datasets.load_iris(), "label")
    export("wine", datasets.load_wine(), "label")
    export("breast_cancer", datasets.load_breast_cancer(), "label")
    export("digits", datasets.load_digits(), "label")
    export("diabetes", datasets.load_diabetes(scaled=False), "target")


if __name__ == "__main__":
    main()
