"""Every mode's schema is closed and complete, so each resolved inference config is itself a valid --config."""
import json

import pytest
from jsonschema import Draft202012Validator

from tests.config.test_config_presets import _object_schemas
from trainer.config.resolve import resolve_infer_config
from trainer.config.validate import infer_schema_for
from trainer.infer.modes import MODES


@pytest.mark.parametrize("name", sorted(MODES))
def test_mode_schema_is_closed_with_defaults(name, tmp_path):
    schema = infer_schema_for({"mode": {"name": name}})
    Draft202012Validator.check_schema(schema)
    assert "$ref" not in json.dumps(schema)
    for sub in _object_schemas(schema):
        assert sub["additionalProperties"] is False
        assert all("default" in value for value in sub["properties"].values())
    config = resolve_infer_config(None, [f"mode.name={name}"])
    path = tmp_path / "resolved.json"
    path.write_text(json.dumps(config))
    assert resolve_infer_config(str(path), []) == config
