"""The bentonb demo: train the iris classifier, pack it, save it, serve it, call it.

    python -m bentonb.demo [--port 5000]

Bundles go to ``$BENTONB_HOME`` (default ``~/bentonb``). In a terminal the
server keeps running until Ctrl-C; otherwise it stops after calling itself.
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.request

SAMPLE = [[5.1, 3.5, 1.4, 0.2]]


def train_iris_classifier():
    """An SVC trained on the iris data set, as in the quick-start tutorial."""
    from sklearn import datasets, svm

    iris = datasets.load_iris()
    return svm.SVC(gamma="scale").fit(iris.data, iris.target)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bentonb.demo", description=__doc__)
    parser.add_argument("--port", type=int, default=5000)
    args = parser.parse_args(argv)

    import bentonb
    from bentonb.adapters.curl import curl_command
    from bentonb.examples.iris_classifier import IrisClassifier

    print("1. training an SVC on the iris data set")
    clf = train_iris_classifier()
    print("2. packing it into IrisClassifier and saving a bundle")
    saved_path = IrisClassifier().pack("model", clf).save()
    print(f"   saved to {saved_path}")
    print("3. loading the bundle back and predicting in Python")
    service = bentonb.load(saved_path)
    prediction = service.predict(SAMPLE).tolist()
    print(f"   {service.tag} predict {SAMPLE} -> {prediction}")
    assert prediction == clf.predict(SAMPLE).tolist()

    print("4. serving it over HTTP with adaptive micro-batching")
    server = bentonb.serve(service, port=args.port)
    if server.notice:
        print(f"   {server.notice}")
    url = f"{server.url}/predict"
    request = urllib.request.Request(url, data=json.dumps(SAMPLE).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        answer = json.loads(response.read())
    print(f"   POST {url} {SAMPLE} -> {answer}")
    assert answer == prediction
    print("   try it yourself:")
    print(f"   {curl_command(service.get_inference_api('predict'), server.url, server.api_key)}")
    print(f"   web UI {server.url}/  docs {server.url}/docs")
    print(f"   or: bentonb run {service.name}:latest predict --input '{SAMPLE}'")
    if sys.stdin.isatty():
        print("   serving until Ctrl-C ...")
        try:
            server.server.wait()
        except KeyboardInterrupt:
            pass
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
