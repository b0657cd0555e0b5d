"""The raw ToolAlpaca API entries behind the records (documentation, endpoints, parameters)."""

from __future__ import annotations

from pathlib import Path

from ...data.adapters import get as get_adapter
from ...errors import RecordError
from ...io import read_json
from ...toolcalls.syntax import json_object


def load_apis(data_root: str | Path, split: str) -> dict[str, dict]:
    """API entries by name, from the files the toolalpaca adapter reads for ``split``."""
    files = get_adapter("toolalpaca").files_for(Path(data_root), split)
    apis = {}
    for path in files:
        data = read_json(path)
        if not isinstance(data, list):
            raise RecordError(f"{path}: expected a JSON list of API objects")
        for i, api in enumerate(data):
            if not isinstance(api, dict) or "Name" not in api:
                raise RecordError(f"{path}: record {i}: missing field 'Name'")
            apis[api["Name"]] = api
    return apis


def api_of(rec: dict, apis: dict[str, dict]) -> dict:
    name = rec.get("meta", {}).get("api_name")
    if name not in apis:
        raise RecordError(f"record {rec['id']}: meta.api_name {name!r} is not an API of the source data")
    return apis[name]


def parameter_spec(api: dict, function: str) -> dict[str, str]:
    """{parameter: description} from the function's ``Parameters: {...}`` line ({} if absent)."""
    text = (api.get("Function_Description") or {}).get(function, "")
    start = text.find("Parameters:")
    if start < 0:
        return {}
    return json_object(text[start + len("Parameters:"):].lstrip()) or {}


def required_parameters(api: dict, function: str) -> list[str]:
    return [k for k, v in parameter_spec(api, function).items() if str(v).lstrip().startswith("Required")]
