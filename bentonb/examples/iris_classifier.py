"""The iris classifier of the quick-start tutorial, as a bentonb service."""

import pandas as pd

from bentonb import BentoService, api, artifacts, env
from bentonb.adapters import DataframeInput
from bentonb.artifact import SklearnModelArtifact


@env(infer_pip_packages=True)
@artifacts([SklearnModelArtifact("model")])
class IrisClassifier(BentoService):
    """A minimum prediction service exposing a scikit-learn model."""

    @api(input=DataframeInput(), batch=True)
    def predict(self, df: pd.DataFrame):
        """Predict the iris species (0 setosa, 1 versicolor, 2 virginica) of each row of
        sepal length, sepal width, petal length and petal width."""
        return self.artifacts.model.predict(df)
