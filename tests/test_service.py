"""Defining services: decorators, packing, calling APIs in Python, and their errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import bentonb
from bentonb import BentoService, api, artifacts, env
from bentonb.adapters import ImageInput, JsonInput
from bentonb.artifact import JSONArtifact, PickleArtifact, SklearnModelArtifact
from bentonb.errors import ArtifactNotPacked, ArtifactTypeError, InvalidArgument, NotFound


def test_tutorial_imports_resolve_to_the_same_classes():
    from bentonb.artifact import SklearnModelArtifact as a
    from bentonb.artifacts import SklearnModelArtifact as b
    from bentonb.frameworks.sklearn import SklearnModelArtifact as c

    assert a is b is c
    assert bentonb.env is env and bentonb.api is api and bentonb.BentoService is BentoService


def test_iris_service_predicts_in_process(iris_service, iris_model, iris_data):
    X, _ = iris_data
    expected = iris_model.predict(X[:5])
    assert iris_service.predict(X[:5].tolist()).tolist() == expected.tolist()
    assert iris_service.predict(pd.DataFrame(X[:5])).tolist() == expected.tolist()
    assert iris_service.predict([[5.1, 3.5, 1.4, 0.2]]).tolist() == [0]


def test_dataframe_input_is_always_a_batch_api(iris_service):
    api_ = iris_service.get_inference_api("predict")
    assert api_.batch is True
    assert api_.route == "predict"
    assert api_.doc == "Predict iris species."


def test_run_batch_splits_rows_back_per_request(iris_service, iris_model, iris_data):
    X, _ = iris_data
    api_ = iris_service.get_inference_api("predict")
    requests = [pd.DataFrame(X[0:3]), pd.DataFrame(X[50:51]), pd.DataFrame(X[100:104])]
    answers = api_.run_batch(requests)
    assert [len(a) for a in answers] == [3, 1, 4]
    for req, ans in zip(requests, answers):
        assert list(ans) == iris_model.predict(req.values).tolist()


def test_json_batch_api_gets_a_list_and_splits_per_request():
    class Echo(BentoService):
        @api(input=JsonInput(), batch=True)
        def shout(self, items):
            return [item["text"].upper() for item in items]

    svc = Echo()
    assert svc.shout([{"text": "a"}, {"text": "b"}]) == ["A", "B"]
    assert svc.get_inference_api("shout").run_batch([{"text": "x"}, {"text": "y"}]) == ["X", "Y"]


def test_api_accepts_adapter_class_as_in_the_pytorch_tutorial():
    class Images(BentoService):
        @api(ImageInput)
        def size(self, img):
            return img.shape

    assert isinstance(Images().get_inference_api("size").input_adapter, ImageInput)
    assert Images().size(np.zeros((4, 5, 3), dtype=np.uint8)) == (4, 5, 3)


def test_batch_api_returning_wrong_length_is_an_error():
    class Bad(BentoService):
        @api(input=JsonInput(), batch=True)
        def f(self, items):
            return [1]

    with pytest.raises(bentonb.BentonbError, match="returned 1 results for 2 input items"):
        Bad().get_inference_api("f").run_batch([{}, {}])


def test_artifacts_give_model_by_attribute_and_artifact_by_item(iris_model, modules):
    cls = modules.load("meta_svc", '''
        import bentonb
        from bentonb.artifact import SklearnModelArtifact, JSONArtifact

        @bentonb.artifacts([SklearnModelArtifact('model'), JSONArtifact('labels')])
        class Meta(bentonb.BentoService):
            @bentonb.api(input=bentonb.adapters.JsonInput())
            def names(self, body):
                return self.artifacts.labels
    ''').Meta
    svc = cls().pack("model", iris_model, metadata={"acc": 0.97}).pack("labels", ["a", "b"])
    assert svc.artifacts["model"].metadata == {"acc": 0.97}
    assert svc.artifacts.model is iris_model
    assert svc.names({}) == ["a", "b"]


def test_pack_wrong_framework_names_artifact_expected_and_given_type():
    import torch

    @artifacts([SklearnModelArtifact("model")])
    class Svc(BentoService):
        pass

    with pytest.raises(ArtifactTypeError) as err:
        Svc().pack("model", torch.nn.Linear(2, 1))
    message = str(err.value)
    assert "'model'" in message and "SklearnModelArtifact" in message
    assert "scikit-learn estimator" in message and "torch.nn.modules.linear.Linear" in message


def test_pack_unknown_artifact_suggests_the_right_one(iris_model):
    @artifacts([SklearnModelArtifact("model")])
    class Svc(BentoService):
        pass

    with pytest.raises(InvalidArgument, match="no artifact 'modle'.*did you mean 'model'"):
        Svc().pack("modle", iris_model)


def test_using_an_unpacked_artifact_says_how_to_pack_it():
    @artifacts([PickleArtifact("model")])
    class Svc(BentoService):
        @api(input=JsonInput())
        def f(self, x):
            return self.artifacts.model(x)

    with pytest.raises(ArtifactNotPacked, match=r"svc.pack\('model', model\)"):
        Svc().f({})


def test_unknown_api_name_suggests_the_right_one(iris_service):
    with pytest.raises(NotFound, match="did you mean 'predict'"):
        iris_service.get_inference_api("predcit")


def test_json_artifact_refuses_non_json():
    @artifacts([JSONArtifact("cfg")])
    class Svc(BentoService):
        pass

    with pytest.raises(ArtifactTypeError, match="JSON-serialisable.*got object"):
        Svc().pack("cfg", object())


@pytest.mark.parametrize("kwargs, message", [
    ({"api_name": "not valid"}, "must be a Python identifier"),
    ({"api_name": "docs"}, "reserved by the server"),
    ({"api_name": "healthz"}, "reserved by the server"),
    ({"route": "metrics"}, "reserved by the server"),
    ({"route": "a b"}, "may hold letters"),
    ({"mb_max_batch_size": 0}, "positive number"),
    ({"mb_max_latency": -5}, "positive number"),
    ({"batch_size": 3}, "unknown option 'batch_size'"),
    ({"mb_max_batchsize": 3}, "did you mean 'mb_max_batch_size'"),
])
def test_bad_api_options_are_refused_clearly(kwargs, message):
    with pytest.raises(InvalidArgument, match=message):
        @api(input=JsonInput(), **kwargs)
        def predict(self, x):
            return x


def test_bare_api_decorator_and_bad_input_are_refused():
    # A bare @api is the 1.2+ style; in a BentoService it is the 0.x mistake it always was.
    with pytest.raises(InvalidArgument, match="needs an input adapter"):
        class Bare(BentoService):
            @api
            def predict(self, x):
                return x
    with pytest.raises(InvalidArgument, match="input= must be an input adapter"):
        api(input=42)


def test_bad_env_and_artifacts_are_refused():
    with pytest.raises(InvalidArgument, match="pip_packages"):
        env(pip_packages=[1, 2])
    with pytest.raises(InvalidArgument, match="no such file"):
        env(requirements_txt_file="/nonexistent/requirements.txt")
    with pytest.raises(InvalidArgument, match="declares 'm' twice"):
        artifacts([PickleArtifact("m"), PickleArtifact("m")])
    with pytest.raises(InvalidArgument, match="artifact instances"):
        artifacts(["model"])
    with pytest.raises(InvalidArgument, match="BentoService subclass"):
        env()(object)
    with pytest.raises(InvalidArgument, match="identifier"):
        PickleArtifact("my model")


def test_env_aliases_of_the_tutorials():
    @env(auto_pip_dependencies=False, pip_dependencies=["torch", "Pillow"])
    class Svc(BentoService):
        pass

    assert Svc().env.infer_pip_packages is False
    assert Svc().env.pip_packages == ("torch", "Pillow")


def test_two_apis_on_one_route_are_refused():
    with pytest.raises(InvalidArgument, match="share the route '/x'"):
        class Svc(BentoService):
            @api(input=JsonInput(), route="x")
            def a(self, v):
                return v

            @api(input=JsonInput(), route="x")
            def b(self, v):
                return v


def test_each_instance_packs_its_own_models(iris_model):
    @artifacts([PickleArtifact("m")])
    class Svc(BentoService):
        pass

    one, two = Svc().pack("m", 1), Svc()
    assert one.artifacts.m == 1
    assert not two.artifacts["m"].is_packed
