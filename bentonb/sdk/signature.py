"""The IO of a 1.2+ ``@bentonb.api`` method, read from its type annotations.

One parameter annotated with a pydantic model, ``np.ndarray``, ``pd.DataFrame``,
``PIL.Image.Image``, ``pathlib.Path`` or ``str`` is read with that type's IO
(JSON with the model, NumpyNdarray, PandasDataFrame, Image, File, Text). Any
other parameters (plain JSON types, several keyword parameters) make a JSON
object whose fields are the parameters: a pydantic model is built from the
signature, so a wrong request is a 400 listing every wrong field. Several
parameters of which one is a file or an image make a multipart form, each part
read by its own IO. The return annotation picks the output the same way.
Heavy frameworks are recognised by their type's module and name, never imported.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any

from bentonb.adapters.base import BaseInputAdapter, BaseOutputAdapter
from bentonb.adapters.dataframe_output import DataframeOutput
from bentonb.adapters.json_output import JsonOutput
from bentonb.errors import InvalidArgument
from bentonb.sdk import io
from bentonb.sdk.context import Context

#: (module prefix, qualified name) of the types read with their own IO.
_NAMED_KINDS = {("numpy", "ndarray"): "ndarray", ("pandas", "DataFrame"): "frame",
                ("PIL", "Image"): "image"}


@dataclass(frozen=True)
class ApiSignature:
    """How HTTP requests become a method's arguments and its result a response.

    ``style`` is ``value`` (the parsed input is the one argument), ``fields`` (a
    JSON object or form whose fields are keyword arguments); ``kind`` is the
    single argument's kind (``ndarray``, ``frame``, ``image``, ``path``, ...) or
    ``fields``; ``param`` names the single argument.
    """

    input: BaseInputAdapter
    output: BaseOutputAdapter
    style: str
    kind: str
    param: str | None
    fields: tuple[str, ...]
    file_fields: dict[str, str]
    context_param: str | None


def kind_of(annotation: Any) -> str:
    """``pydantic``, ``ndarray``, ``frame``, ``image``, ``path``, ``str`` or ``json``."""
    if isinstance(annotation, type):
        if hasattr(annotation, "model_validate") and hasattr(annotation, "model_fields"):
            return "pydantic"
        if issubclass(annotation, PurePath):
            return "path"
        if annotation is str:
            return "str"
        module = annotation.__module__.split(".")[0]
        for (prefix, name), kind in _NAMED_KINDS.items():
            if module == prefix and annotation.__name__ == name:
                return kind
    return "json"


def _hints(func: Callable[..., Any]) -> dict[str, Any]:
    try:
        return typing.get_type_hints(func)
    except Exception as exc:  # noqa: BLE001 - a name the annotations use is not defined yet
        raise InvalidArgument(f"cannot read the type annotations of {func.__qualname__}: "
                              f"{exc}; define the types it names before the class") from exc


def _is_context(param: inspect.Parameter, hint: Any) -> bool:
    return hint is Context or param.name in ("ctx", "context") and hint in (Any, None)


def _part_io(kind: str, hint: Any) -> BaseInputAdapter:
    return {"pydantic": lambda: io.JSON(pydantic_model=hint), "ndarray": io.NumpyNdarray,
            "frame": io.PandasDataFrame, "image": io.Image, "path": io.File,
            "str": io.Text}.get(kind, io.JSON)()


def output_for(hint: Any, output_spec: Any = None) -> BaseOutputAdapter:
    """The output adapter of a return annotation (JSON unless it is a table or a model)."""
    if output_spec is not None:
        return JsonOutput(pydantic_model=output_spec)
    kind = kind_of(hint)
    if kind == "pydantic":
        return JsonOutput(pydantic_model=hint)
    if kind == "frame":
        return DataframeOutput(orient="records")
    if kind in ("image", "path"):
        raise InvalidArgument(f"returning {hint.__name__} is not supported yet; return a "
                              "JSON-able value (a dict, a list, a pydantic model)")
    return JsonOutput()


def read_signature(func: Callable[..., Any], model_name: str, batchable: bool,
                   input_spec: Any = None, output_spec: Any = None) -> ApiSignature:
    """The :class:`ApiSignature` of ``func`` (a method: its first parameter is ``self``)."""
    hints = _hints(func)
    params = list(inspect.signature(func).parameters.values())[1:]
    context_param = None
    inputs = []
    for param in params:
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            raise InvalidArgument(f"{func.__qualname__}: *{param.name} cannot come from a "
                                  "request; name every input parameter")
        hint = hints.get(param.name, Any)
        if _is_context(param, hint):
            context_param = param.name
        else:
            inputs.append((param, hint))
    output = output_for(hints.get("return", Any), output_spec)
    kinds = [kind_of(hint) for _, hint in inputs]
    if batchable:
        if len(inputs) != 1 or kinds[0] not in ("ndarray", "frame"):
            raise InvalidArgument(f"batchable API {func.__qualname__} takes one parameter "
                                  "annotated np.ndarray or pd.DataFrame (the batch)")
        if context_param is not None:
            raise InvalidArgument(f"batchable API {func.__qualname__} answers many requests "
                                  "in one call, so it cannot take a Context")
    if input_spec is not None:
        return ApiSignature(io.JSON(pydantic_model=input_spec), output, "fields", "fields",
                            None, tuple(input_spec.model_fields), {}, context_param)
    if len(inputs) == 1 and kinds[0] != "json":
        param, hint = inputs[0]
        return ApiSignature(_part_io(kinds[0], hint), output, "value", kinds[0], param.name,
                            (param.name,), {}, context_param)
    names = tuple(param.name for param, _ in inputs)
    files = {param.name: kind for (param, _), kind in zip(inputs, kinds)
             if kind in ("image", "path")}
    if files:
        parts = {param.name: _part_io(kind, hint)
                 for (param, hint), kind in zip(inputs, kinds)}
        return ApiSignature(io.Multipart(**parts), output, "fields", "multipart", None, names,
                            files, context_param)
    from pydantic import create_model

    fields = {param.name: (hint, ... if param.default is param.empty else param.default)
              for param, hint in inputs}
    model = create_model(model_name, **fields)
    return ApiSignature(io.JSON(pydantic_model=model), output, "fields", "fields", None,
                        names, {}, context_param)
