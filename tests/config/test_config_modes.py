"""Every mode's schema is closed and complete, so each resolved inference config is itself a valid --config."""
import json

import pytest
from jsonschema import Draft202012Validator

from tests.config.schemas import object_schemas
from trainer.config.resolve import resolve_infer_config
from trainer.config.validate import infer_schema_for, load_schema
from trainer.infer.modes import MODES


@pytest.mark.parametrize("name", sorted(MODES))
def test_mode_schema_is_closed_with_defaults(name, tmp_path):
    schema = infer_schema_for({"mode": {"name": name}})
    Draft202012Validator.check_schema(schema)
    assert "$ref" not in json.dumps(schema)
    for sub in object_schemas(schema):
        assert sub["additionalProperties"] is False
        assert all("default" in value for value in sub["properties"].values())
    config = resolve_infer_config(None, [f"mode.name={name}"])
    path = tmp_path / "resolved.json"
    path.write_text(json.dumps(config))
    assert resolve_infer_config(str(path), []) == config


def test_schema_names_exactly_the_registered_modes():
    assert load_schema("infer")["properties"]["mode"]["properties"]["name"]["enum"] == list(MODES)
    assert sorted(load_schema("infer")["$defs"]["mode_keys"]) == sorted(MODES)
