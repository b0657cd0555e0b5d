"""One conda env per rule group: every rule names one, and it holds what the rule's code imports.

A rule's code is its script plus every ``citi`` module the script imports, followed
transitively. Their third-party imports (outside optional ``try/except ImportError`` blocks)
are mapped to distribution names with this environment's metadata and must be listed in
the env (or installed by its ``<env>.post-deploy.sh``), with pins equal to requirements/cpu.txt
(or to requirements/<env>.txt for an env that cannot share the main environment).
"""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
from functools import cache
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
SRC = REPO / "src"
RULE = re.compile(r"^rule (\w+):\n((?:    .*\n|\n)*)", re.M)
PIN = re.compile(r"^\s*([A-Za-z0-9_.\-\[\]]+)\s*(==|=)\s*([^\s#;]+)")


def norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name.split("[")[0]).lower()


def rules() -> list[tuple[str, str, str | None, str | None]]:
    """(file, rule, conda env path, script path) for every rule, paths relative to the repo."""
    found = []
    for smk in sorted((REPO / "rules").glob("*.smk")):
        for name, body in RULE.findall(smk.read_text()):
            env = re.search(r'conda:\n\s+"([^"]+)"', body)
            script = re.search(r'script:\n\s+"([^"]+)"', body)
            resolve = lambda m: str((smk.parent / m.group(1)).resolve().relative_to(REPO)) if m else None  # noqa: E731
            found.append((smk.name, name, resolve(env), resolve(script)))
    return found


def _optional(tree: ast.AST) -> set[int]:
    """ids of import nodes inside ``try: ... except ImportError`` (optional dependencies)."""
    skip = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Try) and any(
                isinstance(h.type, ast.Name) and h.type.id in ("ImportError", "ModuleNotFoundError")
                for h in node.handlers):
            skip.update(id(n) for stmt in node.body for n in ast.walk(stmt))
    return skip


def _module_file(module: str) -> Path | None:
    base = SRC.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _package_of(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] != "__init__" else parts[:-1])


def _in_functions(tree: ast.AST) -> set[int]:
    return {id(n) for f in ast.walk(tree) if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))
            for n in ast.walk(f)}


def imports(path: Path) -> tuple[set[str], set[str]]:
    """(top-level third-party names, citi modules) imported by one file.

    A script's imports all count (scripts import lazily inside main); a citi module's
    third-party imports count at module level only, since one inside a function is needed only
    on that function's path (citi.io's pandas, for parquet files). citi imports are followed
    wherever they are.
    """
    tree = ast.parse(path.read_text(), str(path))
    optional, external, internal = _optional(tree), set(), set()
    in_src = SRC in path.parents
    lazy = _in_functions(tree) if in_src else set()
    for node in ast.walk(tree):
        if id(node) in optional:
            continue
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against this module's package
                package = _package_of(path).split(".") if in_src else []
                base = ".".join(package[: len(package) - node.level + 1] + ([node.module] if node.module else []))
            else:
                base = node.module
            names = [base] + [f"{base}.{a.name}" for a in node.names]
        else:
            continue
        for name in names:
            if name.split(".")[0] == "citi":
                if _module_file(name):
                    internal.add(name)
            elif id(node) not in lazy and (name == names[0] or isinstance(node, ast.Import)):
                external.add(name.split(".")[0])
    return external - set(sys.stdlib_module_names) - {"__future__"}, internal


@cache
def third_party(script: str) -> dict[str, str]:
    """{top-level module: the file importing it} for a script and its citi modules, transitively."""
    found, seen, todo = {}, set(), [REPO / script]
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        external, internal = imports(path)
        for name in external:
            found.setdefault(name, str(path.relative_to(REPO)))
        for module in internal:  # the module and every package __init__ above it
            parts = module.split(".")
            todo += [f for i in range(1, len(parts) + 1) if (f := _module_file(".".join(parts[:i])))]
    return found


@cache
def _installed() -> dict[str, list[str]]:
    return importlib.metadata.packages_distributions()


def distributions(module: str) -> set[str]:
    return {norm(d) for d in _installed().get(module, [])}


def env_packages(env: Path) -> dict[str, str | None]:
    """{distribution: pinned version or None} from a conda env file and its post-deploy script."""
    spec = yaml.safe_load(env.read_text())
    entries = []
    for dep in spec.get("dependencies", []):
        entries += dep.get("pip", []) if isinstance(dep, dict) else [dep]
    post = env.with_name(env.name.replace(".yaml", ".post-deploy.sh"))
    if post.is_file():
        for line in post.read_text().splitlines():
            if re.match(r"\s*(python -m )?pip install", line):
                entries += [w for w in line.split() if "==" in w]
    packages = {}
    for entry in entries:
        m = PIN.match(str(entry))
        packages[norm(m.group(1) if m else str(entry).split()[0])] = m.group(3) if m else None
    return packages


def requirement_pins(env: Path) -> dict[str, str]:
    """Pins an env must agree with: requirements/<env>.txt where one exists (an env that cannot
    share the main environment, like opencompass), else requirements/cpu.txt."""
    own = REPO / "requirements" / f"{env.stem}.txt"
    lines = (own if own.is_file() else REPO / "requirements" / "cpu.txt").read_text().splitlines()
    return {norm(m.group(1)): m.group(3) for line in lines if (m := PIN.match(line)) and m.group(2) == "=="}


def missing_packages(script: str, env: Path) -> list[str]:
    listed = env_packages(env)
    problems = []
    for module, where in sorted(third_party(script).items()):
        dists = distributions(module)
        if not dists:
            problems.append(f"{module} (imported by {where}) is not installed here, so it cannot be mapped")
        elif not dists & set(listed):
            problems.append(f"{'/'.join(sorted(dists))} (imported as {module} by {where}) is not in {env.name}")
    return problems


RULES = rules()


def test_rules_are_found():
    assert len(RULES) >= 4


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r[1])
def test_every_rule_names_an_existing_env(rule):
    smk, name, env, _ = rule
    assert env, f"{smk}: rule {name} declares no conda: env"
    assert (REPO / env).is_file(), f"{smk}: rule {name}: {env} does not exist"
    assert env.startswith("envs/") and env.endswith(".yaml")


@pytest.mark.parametrize("rule", [r for r in RULES if r[2] and r[3]], ids=lambda r: r[1])
def test_each_env_lists_what_its_rules_import(rule):
    smk, name, env, script = rule
    assert not missing_packages(script, REPO / env), f"{smk}: rule {name}: {missing_packages(script, REPO / env)}"


@pytest.mark.parametrize("env", sorted((REPO / "envs").glob("*.yaml")), ids=lambda p: p.name)
def test_env_pins_are_exact_and_match_the_cpu_requirements(env):
    spec = yaml.safe_load(env.read_text())
    assert spec.get("channels") and spec.get("dependencies"), f"{env.name}: channels and dependencies needed"
    pins = requirement_pins(env)
    for name, version in env_packages(env).items():
        if name in ("python", "pip"):
            continue
        assert version, f"{env.name}: {name} is not pinned to an exact version"
        if name in pins:
            assert version == pins[name], f"{env.name}: {name}=={version} but the requirements pin {pins[name]}"


def test_the_check_fails_on_a_missing_package(tmp_path):
    # A real script's env with one of its imports removed must be reported.
    smk, name, env, script = next(r for r in RULES if r[3] and third_party(r[3]))
    module = sorted(third_party(script))[0]
    dist = sorted(distributions(module))[0]
    spec = yaml.safe_load((REPO / env).read_text())
    for dep in spec["dependencies"]:
        if isinstance(dep, dict):
            dep["pip"] = [p for p in dep["pip"] if norm(PIN.match(p).group(1)) != dist]
    spec["dependencies"] = [d for d in spec["dependencies"] if not (isinstance(d, str) and norm(d.split("=")[0]) == dist)]
    broken = tmp_path / Path(env).name
    broken.write_text(yaml.safe_dump(spec))
    assert any(dist in problem for problem in missing_packages(script, broken)), (name, module)


def test_the_import_walk_follows_citi_modules_transitively():
    # materialize_model.py imports only citi; torch reaches it through citi.models.
    # The rule's script must be there: a deleted script is a failure, not a skip.
    assert any(r[1] == "materialize_model" and r[3] == "scripts/materialize_model.py" for r in RULES), \
        "rule materialize_model no longer runs scripts/materialize_model.py"
    assert (REPO / "scripts" / "materialize_model.py").is_file(), "scripts/materialize_model.py is missing"
    imported = third_party("scripts/materialize_model.py")
    assert "torch" in imported and imported["torch"] != "scripts/materialize_model.py"  # reached through citi
