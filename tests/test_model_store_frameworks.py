"""``bentonb.spacy`` and ``bentonb.keras`` (BentoML 1.x's ``save_model``/``get``/
``load_model``): a small real model saved to the model store loads back, in this
process and in a fresh one, and predicts what it predicted before saving."""

from __future__ import annotations

import json

import numpy as np
import pytest
from helpers import run_python

import bentonb

TEXTS = ["Apple is opening an office in Berlin", "I ordered from Amazon in London"]


def _entities(nlp, texts: list[str]) -> list[list[list[str]]]:
    return [[[ent.text, ent.label_] for ent in nlp(t).ents] for t in texts]


def test_spacy_pipeline_round_trip(store_home):
    import spacy

    nlp = spacy.blank("en")
    ruler = nlp.add_pipe("entity_ruler")
    ruler.add_patterns([{"label": "ORG", "pattern": "Apple"},
                        {"label": "ORG", "pattern": "Amazon"},
                        {"label": "GPE", "pattern": [{"LOWER": {"IN": ["berlin", "london"]}}]}])
    expected = _entities(nlp, TEXTS)
    assert expected == [[["Apple", "ORG"], ["Berlin", "GPE"]],
                        [["Amazon", "ORG"], ["London", "GPE"]]]

    saved = bentonb.spacy.save_model("ner", nlp, labels={"lang": "en"},
                                     custom_objects={"labels": ["ORG", "GPE"]})
    assert (saved.path / "pipeline" / "meta.json").is_file()
    assert saved.info.framework_versions["spacy"] == spacy.__version__
    assert bentonb.spacy.get("ner:latest").tag == saved.tag
    assert _entities(bentonb.spacy.load_model(saved.tag), TEXTS) == expected
    runner = bentonb.spacy.get(saved.tag).to_runner()
    runner.init_local()
    doc = runner.run(TEXTS[0])  # the default signature: nlp(text)
    assert [[e.text, e.label_] for e in doc.ents] == expected[0]

    out = run_python(f"""
        import json, bentonb
        nlp = bentonb.spacy.load_model("ner:latest")
        model = bentonb.spacy.get("ner:latest")
        print(json.dumps([[[e.text, e.label_] for e in nlp(t).ents] for t in {TEXTS!r}]))
        print(json.dumps([model.custom_objects["labels"], model.info.labels]))
    """)
    got, extra = (json.loads(line) for line in out.strip().splitlines())
    assert got == expected
    assert extra == [["ORG", "GPE"], {"lang": "en"}]


@pytest.mark.slow  # Keras on torch: importing it and fitting take 10-20 s
def test_keras_model_round_trip(store_home, iris_data):
    import keras

    X, y = iris_data
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="relu"),
                              keras.layers.Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(X.astype("float32"), y, epochs=3, verbose=0)
    sample = X[:10].astype("float32")
    expected = model.predict(sample, verbose=0)

    saved = bentonb.keras.save_model("iris_keras", model,
                                     signatures={"predict": {"batchable": True}})
    assert (saved.path / "model.keras").is_file()
    assert saved.info.options == {"backend": keras.backend.backend()}
    np.testing.assert_allclose(bentonb.keras.load_model(saved.tag).predict(sample, verbose=0),
                               expected, rtol=1e-5)
    runner = bentonb.keras.get(saved.tag).to_runner()
    runner.init_local()
    np.testing.assert_allclose(runner.predict.run(sample), expected, rtol=1e-5)

    # A fresh process with no KERAS_BACKEND set loads it on the backend it was saved with.
    out = run_python(f"""
        import json, os
        os.environ.pop("KERAS_BACKEND", None)
        import bentonb, numpy as np
        model = bentonb.keras.load_model("iris_keras:latest")
        import keras
        print(keras.backend.backend())
        print(json.dumps(model.predict(np.array({sample.tolist()}, dtype="float32"),
                                       verbose=0).tolist()))
    """)
    backend, predictions = out.strip().splitlines()[-2:]
    assert backend == keras.backend.backend()
    np.testing.assert_allclose(json.loads(predictions), expected, rtol=1e-5)
