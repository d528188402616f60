"""The bentonb demo: train the iris classifier, pack it, save it, predict with the bundle.

    python -m bentonb.demo

Bundles go to ``$BENTONB_HOME`` (default ``~/bentonb``).
"""

from __future__ import annotations

import sys


def train_iris_classifier():
    """An SVC trained on the iris data set, as in the quick-start tutorial."""
    from sklearn import datasets, svm

    iris = datasets.load_iris()
    return svm.SVC(gamma="scale").fit(iris.data, iris.target)


def main(argv: list[str] | None = None) -> int:
    import bentonb
    from bentonb.examples.iris_classifier import IrisClassifier

    sample = [[5.1, 3.5, 1.4, 0.2]]
    print("1. training an SVC on the iris data set")
    clf = train_iris_classifier()
    print("2. packing it into IrisClassifier and saving a bundle")
    saved_path = IrisClassifier().pack("model", clf).save()
    print(f"   saved to {saved_path}")
    print("3. loading the bundle back and predicting")
    service = bentonb.load(saved_path)
    prediction = service.predict(sample).tolist()
    print(f"   {service.tag} predict {sample} -> {prediction}")
    assert prediction == clf.predict(sample).tolist()
    print("   same answer from the command line:")
    print(f"   bentonb run {service.name}:latest predict --input '{sample}'")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
