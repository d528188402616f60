"""``bentonb.keras``: the 1.x model functions for keras (BentoML's ``bentoml.keras``)."""

from bentonb.frameworks.keras import get, load_model, save_model

__all__ = ["get", "load_model", "save_model"]
