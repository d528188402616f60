"""``bentonb.spacy``: the 1.x model functions for spacy (BentoML's ``bentoml.spacy``)."""

from bentonb.frameworks.spacy import get, load_model, save_model

__all__ = ["get", "load_model", "save_model"]
