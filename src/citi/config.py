"""Load and check a pipeline config: JSON Schema first, then cross-references.

The same check runs in the Snakefile (before any job) and in every script run
alone, so both see the same defaults and the same errors. Messages name the
key, e.g. ``config key 'datasets.gsm8k.splits.train.n': 'abc' is not of type 'integer'``.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from pathlib import Path

import jsonschema
import yaml

from .errors import ConfigError

REPO = Path(__file__).resolve().parents[2]
SCHEMA = REPO / "config" / "schema.yaml"
# The paper settings are layers (README, "Configs"): base.yaml, backbone/<backbone>.yaml,
# tool/<tool data>.yaml and pair/<backbone>_<tool data>.yaml, merged in that order.
PAPER = REPO / "config" / "paper"
TOOL_ADAPTERS = {"api_bank", "toolalpaca"}


def _key(path) -> str:
    return ".".join(str(p) for p in path) or "<top level>"


def _message(err: jsonschema.ValidationError) -> str:
    where = f"config key '{_key(err.absolute_path)}'"
    if err.validator == "additionalProperties":
        allowed = sorted(err.schema.get("properties", {}))
        extra = sorted(set(err.instance) - set(allowed))
        return f"{where}: unknown key(s) {', '.join(map(repr, extra))}; allowed: {', '.join(allowed)}"
    if err.validator == "propertyNames":
        bad = [k for k in err.instance if not _valid(k, err.schema["propertyNames"])]
        enum = err.schema["propertyNames"].get("enum")
        hint = f"; known: {', '.join(enum)}" if enum else ""
        return f"{where}: invalid name(s) {', '.join(map(repr, bad))}{hint}"
    if err.validator == "enum":
        return f"{where}: {err.instance!r} is not one of {', '.join(map(str, err.validator_value))}"
    return f"{where}: {err.message}"


def _valid(instance, schema) -> bool:
    return jsonschema.Draft202012Validator(schema).is_valid(instance)


def _with_defaults(cls):
    """A validator that also fills in schema defaults (as snakemake's validate does)."""
    check_properties = cls.VALIDATORS["properties"]

    def properties(validator, props, instance, schema):
        if isinstance(instance, dict):
            for name, sub in props.items():
                if "default" in sub and name not in instance:
                    instance[name] = copy.deepcopy(sub["default"])
        yield from check_properties(validator, props, instance, schema)

    return jsonschema.validators.extend(cls, {"properties": properties})


def load_schema(path: Path = SCHEMA) -> dict:
    return yaml.safe_load(Path(path).read_text())


def check_config(config: dict, schema_path: Path = SCHEMA, source: str = "config") -> dict:
    """Validate ``config`` in place (filling defaults); raise ConfigError naming the key."""
    _check_keys(config, source)
    tables = config.get("tables")
    main_methods_given = isinstance(tables, dict) and "main_methods" in tables  # before the defaults fill it in
    schema = load_schema(schema_path)
    validator = _with_defaults(jsonschema.Draft202012Validator)(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: (list(map(str, e.absolute_path)), e.message))
    if errors:
        lines = [_message(e) for e in errors[:10]]
        more = f"\n  ... and {len(errors) - 10} more" if len(errors) > 10 else ""
        raise ConfigError(f"{source} is invalid:\n  " + "\n  ".join(lines) + more)
    _check_references(config, source, main_methods_given)
    return config


def _check_keys(obj, source: str, where: str = "") -> None:
    """YAML 1.1 reads bare on/off/yes/no as booleans, so ``on: x`` arrives as key True; say so plainly."""
    if isinstance(obj, dict):
        for key, value in obj.items():
            if not isinstance(key, str):
                raise ConfigError(f"{source}: key {key!r} under '{where or '<top>'}' is not a string "
                                  f"(YAML reads bare on/off/yes/no as booleans and digits as numbers); quote it")
            _check_keys(value, source, f"{where}.{key}" if where else key)
    elif isinstance(obj, list):
        for i, item in enumerate(obj):
            _check_keys(item, source, f"{where}[{i}]")


def _table_problems(config: dict, main_methods_given: bool) -> list[str]:
    """A typo in the tables section would drop a row silently, or leave every table out of `all`."""
    tables, problems = config.get("tables", {}), []
    methods = config.get("methods", {})
    if main_methods_given:  # the schema's default [ft, lora, citi] keeps the methods a config defines
        for name in tables.get("main_methods", []):
            if name not in methods:
                problems.append(f"config key 'tables.main_methods': unknown method '{name}'; "
                                f"defined: {', '.join(methods) or 'none'}")
    ev = config.get("evaluation", {})
    evaluated = [*ev.get("benchmarks", {}), *ev.get("general", {}).get("benchmarks", {})]
    for i, column in enumerate(tables.get("columns", [])):
        named = column.get("benchmark")
        for name in [named] if isinstance(named, str) else named or []:
            if name not in evaluated:
                problems.append(f"config key 'tables.columns[{i}].benchmark': unknown benchmark '{name}' "
                                f"(column '{column.get('name')}'); evaluated: {', '.join(evaluated) or 'none'} "
                                f"(evaluation.benchmarks, evaluation.general.benchmarks)")
    return problems


def _merge_problems(method: str, spec: dict, methods: dict) -> list[str]:
    """A merge method's settings fit its kind, and it merges a trained method (issue 22's baselines)."""
    from .methods.merging import merge_settings  # no torch: the settings only

    try:
        donor = merge_settings(method, spec).donor
    except ConfigError as e:
        return [str(e)]
    if "stages" not in methods.get(donor, {}):
        return [f"config key 'methods.{method}.merge.from': '{donor}' is not a configured trained method; "
                f"trained: {', '.join(m for m, s in methods.items() if 'stages' in s)}"]
    return []


def _check_references(config: dict, source: str, main_methods_given: bool = True) -> None:
    from .data import adapters

    problems = []
    datasets = config["datasets"]
    for name, ds in datasets.items():
        known = adapters.get(ds["adapter"]).splits
        for split in ds["splits"]:
            if split not in known:
                problems.append(f"config key 'datasets.{name}.splits.{split}': adapter '{ds['adapter']}' "
                                f"has no split '{split}'; known: {', '.join(known)}")
    for task, ref in config["tasks"].items():
        ds = datasets.get(ref["dataset"])
        if ds is None:
            problems.append(f"config key 'tasks.{task}.dataset': unknown dataset '{ref['dataset']}'; "
                            f"defined: {', '.join(datasets)}")
        elif ref["split"] not in ds["splits"]:
            problems.append(f"config key 'tasks.{task}.split': dataset '{ref['dataset']}' has no configured "
                            f"split '{ref['split']}'; configured: {', '.join(ds['splits'])}")
        elif (task == "tool") != (ds["adapter"] in TOOL_ADAPTERS):
            problems.append(f"config key 'tasks.{task}.dataset': '{ref['dataset']}' uses adapter "
                            f"'{ds['adapter']}', which is {'not ' if task == 'tool' else ''}a tool dataset")
    methods = config.get("methods", {})
    for method, spec in methods.items():
        if "mixture" in spec and spec["mixture"] not in config["mixtures"]:
            problems.append(f"config key 'methods.{method}.mixture': unknown mixture '{spec['mixture']}'; "
                            f"defined: {', '.join(config['mixtures'])}")
        estimators = config.get("importance", {}).get("estimators", {})
        if "importance" in spec and spec["importance"] not in estimators:
            problems.append(f"config key 'methods.{method}.importance': no estimator '{spec['importance']}' under "
                            f"importance.estimators; defined: {', '.join(estimators) or 'none'}")
        donor = spec.get("replace_from")  # not `source`: that names the config in the message below
        if donor is not None and (donor not in methods or "replace_from" in methods[donor]):
            problems.append(f"config key 'methods.{method}.replace_from': '{donor}' is not a configured "
                            f"trained method; trained: {', '.join(m for m, s in methods.items() if 'stages' in s)}")
        if "merge" in spec:
            problems += _merge_problems(method, spec, methods)
    router = config.get("router_analysis", {})
    for ref in router.get("tool", []) + router.get("general", []):
        ds = datasets.get(ref["dataset"])
        if ds is None or ref["split"] not in ds["splits"]:
            problems.append(f"config key 'router_analysis': '{ref['dataset']}/{ref['split']}' is not a "
                            f"configured dataset split")
    for name, ds in datasets.items():
        if ds["source"].startswith("generated:") and "generate" not in config:
            problems.append(f"config key 'datasets.{name}.source': generated data needs a 'generate' section")
    problems += _table_problems(config, main_methods_given)
    if problems:
        raise ConfigError(f"{source} is invalid:\n  " + "\n  ".join(problems))


def merge_configs(*configs: Mapping) -> dict:
    """The configs merged in order, as Snakemake merges several ``--configfile`` files
    (``snakemake.utils.update_config``): a mapping is merged key by key, recursively; any other
    value, a list included, replaces the earlier one; later wins. The inputs are not modified."""

    def update(config, overlay):
        for key, value in overlay.items():
            if not isinstance(config, Mapping):  # a mapping over a non-mapping replaces it
                config = {}
            config[key] = update(config.get(key, {}), value) if isinstance(value, Mapping) else value
        return config

    merged: dict = {}
    for config in configs:
        update(merged, copy.deepcopy(dict(config)))
    return merged


def _yaml_problem(e: yaml.YAMLError) -> str:
    """PyYAML's error on one line, where the problem is first: 'line 4, column 1: not valid YAML: ...'."""
    mark = getattr(e, "problem_mark", None) or getattr(e, "context_mark", None)
    if mark is None:
        return "not valid YAML: " + " ".join(str(e).split())
    what = " ".join(" ".join(filter(None, [getattr(e, "context", None), getattr(e, "problem", None)])).split())
    opened = getattr(e, "context_mark", None)
    since = (f" (the construct began at line {opened.line + 1}, column {opened.column + 1})"
             if opened is not None and opened.line != mark.line and getattr(e, "problem_mark", None) else "")
    return f"line {mark.line + 1}, column {mark.column + 1}: not valid YAML: {what}{since}"


def read_config(path: str | Path) -> dict:
    """One YAML config file, unchecked (a mapping at the top level)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise ConfigError(f"{path}: cannot read config: {e.strerror}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise ConfigError(f"{path}: line {line}: invalid UTF-8 at byte offset {e.start} ({e.reason}); "
                          f"save the file as UTF-8") from None
    try:
        config = yaml.safe_load(text) or {}
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: {_yaml_problem(e)}") from None
    if not isinstance(config, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    return config


def _paths(path: str | Path | Sequence[str | Path]) -> list[Path]:
    paths = [Path(path)] if isinstance(path, (str, Path)) else [Path(p) for p in path]
    if not paths:
        raise ConfigError("no config file given")
    return paths


def read_configs(path: str | Path | Sequence[str | Path]) -> dict:
    """One config file, or several merged in order as ``snakemake --configfile A B ...`` merges them;
    unchecked (no schema defaults yet)."""
    return merge_configs(*(read_config(p) for p in _paths(path)))


def load_config(path: str | Path | Sequence[str | Path], overrides: dict | None = None) -> dict:
    """Read a YAML config, or several layers merged in order (as Snakemake merges several
    ``--configfile`` files), apply ``overrides`` (top-level keys), check it."""
    paths = _paths(path)
    config = read_configs(paths)
    config.update(overrides or {})
    return check_config(config, source=" + ".join(map(str, paths)))


def paper_combinations() -> list[tuple[str, str]]:
    """Every (backbone, tool dataset) of the paper layers, e.g. ("llama-3-8b-instruct", "api-bank")."""
    backbones = sorted(p.stem for p in (PAPER / "backbone").glob("*.yaml"))
    tools = sorted(p.stem for p in (PAPER / "tool").glob("*.yaml"))
    return [(b, t) for b in backbones for t in tools]


def paper_configfiles(backbone: str, tool: str) -> list[Path]:
    """The layers of one paper setting, in merge order: what ``snakemake --configfile`` takes."""
    files = [PAPER / "base.yaml", PAPER / "backbone" / f"{backbone}.yaml", PAPER / "tool" / f"{tool}.yaml",
             PAPER / "pair" / f"{backbone}_{tool}.yaml"]
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        known = ", ".join(f"{b} x {t}" for b, t in paper_combinations())
        raise ConfigError(f"paper setting {backbone} x {tool}: missing layer(s) {', '.join(missing)}; known: {known}")
    return files


def config_hash(config: dict, keys: tuple[str, ...] | None = None) -> str:
    """A short, stable hash of ``config`` (or of the named top-level sections), for table rows and manifests.

    Resources are left out: where a job ran does not change what it computed.
    """
    import hashlib
    import json

    chosen = {k: v for k, v in config.items() if k != "resources" and (keys is None or k in keys)}
    blob = json.dumps(chosen, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:12]
