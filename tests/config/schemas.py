"""Walking the config schemas in tests."""


def object_schemas(schema):
    """Objects with named keys; a map (additionalProperties a schema, e.g. loss.class_weights) has data as keys."""
    if schema.get("type") == "object" and not isinstance(schema.get("additionalProperties"), dict):
        yield schema
    for sub in schema.get("properties", {}).values():
        yield from object_schemas(sub)
    for key in ("items", "if", "then", "else"):
        if isinstance(schema.get(key), dict):
            yield from object_schemas(schema[key])
