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
from trainer.model.backbones import names_by_implementation, names_with_option, names_without_decoder

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


def _inline_refs(node, defs: dict):
    """Local `$ref`s replaced by their definitions, so `fill_defaults` also sees the defaults inside them."""
    if isinstance(node, list):
        return [_inline_refs(item, defs) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _inline_refs(value, defs) for key, value in node.items() if key != "$ref"}
    if "$ref" in node:
        out = {**_inline_refs(defs[node["$ref"].rsplit("/", 1)[-1]], defs), **out}
    return out


@cache
def _infer_schema(mode_name: str | None) -> dict:
    schema = load_schema("infer")
    mode = schema["properties"]["mode"]
    extra = schema["$defs"]["mode_keys"].get(mode_name)
    # An unknown name is reported by the enum alone, not followed by every key that name would not allow.
    mode = {**mode, "properties": {**mode["properties"], **extra}} if extra is not None else {
        **mode, "additionalProperties": True}
    top = {key: value for key, value in schema.items() if key != "$defs"}
    return _inline_refs({**top, "properties": {**top["properties"], "mode": mode}}, schema["$defs"])


def infer_schema_for(config: dict) -> dict:
    """The inference schema with `mode` given the keys of its (possibly defaulted) name, for any config read."""
    mode = config.get("mode", {})
    default = load_schema("infer")["properties"]["mode"]["properties"]["name"]["default"]
    name = mode.get("name", default) if isinstance(mode, dict) else None
    return _infer_schema(name if isinstance(name, str) else None)


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
    if kind in ("minItems", "maxItems") and expected != 1:   # pairs: [height, width]
        return f"expected {expected} items, got {describe(instance)}"
    if kind in ("minLength", "minItems"):  # otherwise 1: "non-empty"
        return "must not be empty"
    if kind == "uniqueItems":
        counts = Counter(json.dumps(item, sort_keys=True) for item in instance)
        return f"has duplicate values: {', '.join(text for text, n in counts.items() if n > 1)}"
    if kind == "pattern":  # the schema's description says the expected form in words
        return f"expected {error.schema['description']}, got {describe(instance)}"
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
    multiplied = names_with_option("depth_multiplier")
    if model["backbone"] not in multiplied and model["depth_multiplier"] != 1.0:
        problems.append((["model", "depth_multiplier"], f"only applies to backbone {', '.join(multiplied)}"))
    backbones = names_by_implementation()[model["implementation"]]
    if model["backbone"] not in backbones:
        problems.append((["model", "implementation"], f"{_dump(model['implementation'])} has no backbone "
                         f"{_dump(model['backbone'])} (it has: {', '.join(backbones)})"))
    if model["dense_prediction_cell"]:
        problems += [(["model", "dense_prediction_cell"], problem) for problem in _cell_problems(model)]
    problems += _head_problems(model)
    for side in ("width", "height"):
        size = config["input_size"][side]
        if too_small(size, model["output_stride"]):
            problems.append((["input_size", side], f"{size} {too_small(size, model['output_stride'])}"))
    schedule = config["lr_schedule"]
    if schedule["name"] != "constant" and schedule["end_lr"] > config["lr"]:
        problems.append((["lr_schedule", "end_lr"], f"{schedule['end_lr']} is greater than lr {config['lr']}: the schedule only decays"))
    return problems


def _cell_problems(model: dict) -> list[str]:
    """The Dense Prediction Cell is research/deeplab's head, replaces the ASPP, and has rates for OS 16 scaled by
    16 / output_stride (none at 32)."""
    problems = []
    if model["implementation"] != "deeplab":
        problems.append(f'needs model.implementation "deeplab" (got {_dump(model["implementation"])})')
    if model["atrous_rates"]:
        problems.append(f"replaces the ASPP: model.atrous_rates must be [] (got {_dump(model['atrous_rates'])})")
    if model["output_stride"] not in (8, 16):
        problems.append(f"needs model.output_stride 8 or 16 (got {model['output_stride']})")
    return problems


# research/deeplab's head keys (trainer.model.deeplab_head.Head), each with its default: a value other than the
# default needs implementation "deeplab" and the ASPP; the decoder's also need model.decoder.
_ASPP_KEYS = {"image_pooling_crop_size": None, "image_pooling_stride": [1, 1], "aspp_filters": 256,
              "aspp_concat_projection": True, "aspp_squeeze_excitation": False}
_DECODER_KEYS = {"decoder_output_stride": 4, "decoder_sum_merge": False}


def _head_problems(model: dict) -> list[tuple[list, str]]:
    """Where research/deeplab's head keys do not apply, and their combinations model.py cannot build."""
    problems = []
    changed = [key for key, default in {**_ASPP_KEYS, **_DECODER_KEYS}.items() if model[key] != default]
    for key in changed:
        if model["implementation"] != "deeplab":
            problems.append((["model", key], f'needs model.implementation "deeplab" (got {_dump(model["implementation"])})'))
        elif key in _ASPP_KEYS and model["dense_prediction_cell"]:
            problems.append((["model", key], "does not apply with model.dense_prediction_cell (the cell replaces the ASPP)"))
        elif key in _DECODER_KEYS and not model["decoder"]:
            problems.append((["model", key], "needs model.decoder true"))
    if model["image_pooling_stride"] != [1, 1] and model["image_pooling_crop_size"] is None:
        problems.append((["model", "image_pooling_stride"], "needs model.image_pooling_crop_size (null pools globally)"))
    if model["decoder"] and model["backbone"] in names_without_decoder():
        problems.append((["model", "decoder"], f"backbone {_dump(model['backbone'])} has no decoder feature "
                         "(research/deeplab defines none for it): use false"))
    strided = names_with_option("decoder_output_stride")
    if model["decoder_output_stride"] != 4 and model["backbone"] not in strided:
        problems.append((["model", "decoder_output_stride"], f"8 only applies to backbone {', '.join(strided)}"))
    branches = 1 + len(model["atrous_rates"])
    if model["aspp_squeeze_excitation"] and not model["aspp_concat_projection"] and branches > 1:
        problems.append((["model", "aspp_squeeze_excitation"], f"gates {model['aspp_filters']} channels, but without "
                         f"model.aspp_concat_projection the ASPP gives {branches} × {model['aspp_filters']} "
                         f"(model.atrous_rates {_dump(model['atrous_rates'])}): use atrous_rates [] or the projection"))
    return problems


def _pipeline_problems(config: dict) -> list[tuple[list, str]]:
    """Each configured augmentation pipeline tried on test images (albumentations loads only when there is one)."""
    problems = []
    for split, spec in config["augmentations"].items():
        if spec is not None:  # null = the default pipeline for input_size, right by construction
            from trainer.data.augment import pipeline_problems

            problems += [(["augmentations", split, *path], message) for path, message
                         in pipeline_problems(spec, config["input_size"]["height"], config["input_size"]["width"])]
    return problems


def too_small(size: int, output_stride: int) -> str | None:
    """Why an input side is too small for the output stride (None if it is not): the network needs 2 output pixels."""
    smallest = 2 * output_stride
    return f"is too small for model.output_stride {output_stride} (minimum {smallest})" if size < smallest else None


def validate_train_config(config: dict, where: str, *, pipelines: bool = True) -> None:
    """Raise ConfigError for a complete (defaults filled) train config that is not usable; `where` prefixes each line.
    `pipelines=False` leaves the augmentation pipelines untried: a checkpoint's settings are only read to build and
    run its network, which they do not affect."""
    problems = schema_problems(config, load_schema("train"))
    if not problems:
        problems = _train_cross_problems(config) + (_pipeline_problems(config) if pipelines else [])
    _raise_if_any(problems, where)


def _infer_cross_problems(config: dict) -> list[tuple[list, str]]:
    """A sliding window must move: its overlap has to be smaller than the window."""
    mode = config["mode"]
    if mode["name"] != "sliding_window":
        return []
    return [(["mode", "min_overlap", axis], f"{mode['min_overlap'][axis]} must be less than mode.window.{side} "
                                            f"({mode['window'][side]}), or the window never moves")
            for axis, side in (("x", "width"), ("y", "height")) if mode["min_overlap"][axis] >= mode["window"][side]]


def validate_infer_config(config: dict, where: str) -> None:
    """Raise ConfigError for an inference config that is not usable; `where` prefixes each line."""
    problems = schema_problems(config, infer_schema_for(config))
    _raise_if_any(problems or _infer_cross_problems(config), where)
