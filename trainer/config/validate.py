"""Validate resolved configs: JSON Schema (all problems at once) plus the cross-field rules a schema cannot say.

Every problem becomes one `ConfigError` line, `WHERE: key.path: message`, sorted by key path, so the user can fix
everything in one pass.
"""

import json
from collections import Counter
from functools import cache
from importlib import resources

from jsonschema import Draft202012Validator, validators

from trainer.errors import ConfigError

# Modes the plugin had that we know about but do not run: naming one is a single clear error, not a pile of
# complaints about that mode's own keys.
NOT_IMPLEMENTED_MODES = ("roi", "bboxes", "sliding_window")

# JSON Schema counts 2.0 as an integer; we do not, because `epochs: 2.0` would pass here and crash in range() later.
_Validator = validators.extend(
    Draft202012Validator,
    type_checker=Draft202012Validator.TYPE_CHECKER.redefine(
        "integer", lambda _checker, value: isinstance(value, int) and not isinstance(value, bool)
    ),
)


@cache
def load_schema(kind: str) -> dict:
    """The packaged schema for "train" or "infer" (also the single source of the defaults)."""
    text = (resources.files("trainer.config") / "schemas" / f"{kind}.schema.json").read_text(encoding="utf-8")
    return json.loads(text)


def format_path(path) -> str:
    """`["gpu_devices", 1]` -> `gpu_devices[1]`, `["batch_size", "train"]` -> `batch_size.train`."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


def describe(value) -> str:
    """JSON type name plus the value, short: `string "abc"`, `number 2.5`, `object {"x": 1}`, `null`."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        kind = "boolean"
    elif isinstance(value, (int, float)):
        kind = "number"
    elif isinstance(value, str):
        kind = "string"
    elif isinstance(value, list):
        kind = "array"
    else:
        kind = "object"
    text = json.dumps(value, ensure_ascii=False)
    return f"{kind} {text if len(text) <= 60 else text[:57] + '...'}"


def _dump(value) -> str:
    return json.dumps(value, ensure_ascii=False)


def _message(error) -> str:
    """Plain-JSON wording for the keywords our schemas use (jsonschema's own messages show Python reprs)."""
    kind, expected, instance = error.validator, error.validator_value, error.instance
    if kind == "type":
        names = expected if isinstance(expected, list) else [expected]
        return f"expected {' or '.join(names)}, got {describe(instance)}"
    if kind == "enum":
        return f"{_dump(instance)} is not one of: {', '.join(_dump(v) for v in expected)}"
    if kind == "const":
        return f"must be {_dump(expected)}, got {describe(instance)}"
    if kind in ("minLength", "minItems"):  # the schemas only use 1: "non-empty"
        return "must not be empty"
    if kind == "uniqueItems":
        counts = Counter(json.dumps(item, sort_keys=True) for item in instance)
        return f"has duplicate values: {', '.join(text for text, n in counts.items() if n > 1)}"
    return error.message  # minimum / maximum / exclusiveMinimum: numbers only, already clear


def schema_problems(config: dict, schema: dict) -> list[tuple[list, str]]:
    """All schema problems as (key path, message); a wrong type hides the other complaints about the same key."""
    errors = list(_Validator(schema).iter_errors(config))
    mistyped = {tuple(e.absolute_path) for e in errors if e.validator == "type"}
    problems = []
    for error in errors:
        path = list(error.absolute_path)
        if error.validator != "type" and tuple(path) in mistyped:
            continue
        if error.validator == "additionalProperties":
            allowed = error.schema["properties"]
            listing = ", ".join(sorted(allowed))
            problems += [(path + [key], f"unknown key (allowed: {listing})") for key in error.instance if key not in allowed]
        else:
            problems.append((path, _message(error)))
    return problems


def _path_order(problem):
    path, message = problem
    return [(0, part, "") if isinstance(part, int) else (1, 0, part) for part in path], message


def _raise_if_any(problems: list[tuple[list, str]], where: str) -> None:
    if problems:
        raise ConfigError(*(f"{where}: {format_path(path)}: {msg}" for path, msg in sorted(problems, key=_path_order)))


def _train_cross_problems(config: dict) -> list[tuple[list, str]]:
    """Rules across keys; run only on a schema-valid, complete config so every value has its declared type."""
    problems = []
    special = config["special_classes"]
    if special["background"] == special["neutral"]:
        problems.append(
            (["special_classes", "neutral"], f"must differ from special_classes.background (both are {_dump(special['neutral'])})")
        )
    model = config["model"]
    if model["backbone"] != "mobilenet_v2" and model["depth_multiplier"] != 1.0:
        problems.append((["model", "depth_multiplier"], "only applies to backbone mobilenet_v2"))
    smallest = 2 * model["output_stride"]
    for side in ("width", "height"):
        size = config["input_size"][side]
        if size < smallest:
            problems.append(
                (["input_size", side], f"{size} is too small for model.output_stride {model['output_stride']} (minimum {smallest})")
            )
    return problems


def validate_train_config(config: dict, where: str) -> None:
    """Raise ConfigError for a complete (defaults filled) train config that is not usable; `where` prefixes each line."""
    problems = schema_problems(config, load_schema("train"))
    _raise_if_any(problems or _train_cross_problems(config), where)


def validate_infer_config(config: dict, where: str) -> None:
    """Raise ConfigError for an inference config that is not usable; `where` prefixes each line."""
    schema = load_schema("infer")
    mode = config.get("mode")
    name = mode.get("name") if isinstance(mode, dict) else None
    if name in NOT_IMPLEMENTED_MODES:
        available = ", ".join(schema["properties"]["mode"]["properties"]["name"]["enum"])
        problems = [(["mode", "name"], f"{_dump(name)} is not implemented yet (available: {available})")]
        problems += schema_problems({k: v for k, v in config.items() if k != "mode"}, schema)
    else:
        problems = schema_problems(config, schema)
    _raise_if_any(problems, where)
