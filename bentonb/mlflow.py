"""``bentonb.mlflow``: BentoML's ``bentoml.mlflow`` (``import_model``, ``get``,
``load_model``); needs ``pip install 'bentonb[mlflow]'``."""

from bentonb.frameworks.mlflow import get, import_model, load_model

__all__ = ["get", "import_model", "load_model"]
