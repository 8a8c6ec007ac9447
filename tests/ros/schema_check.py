"""Validates parameter files against launch/rtseg.params.schema.json with the jsonschema
package; prints one JSON line per file: {"file", "valid", "error"} and, for the first, the
schema's leaf parameter names (dotted, as ROS names them).

    python schema_check.py SCHEMA FILE...
"""
import json
import sys

import jsonschema
import yaml

schema = json.load(open(sys.argv[1]))
jsonschema.Draft7Validator.check_schema(schema)
validator = jsonschema.Draft7Validator(schema)


def leaves(props, prefix=""):
    for name, spec in props.items():
        if spec.get("type") == "object":
            yield from leaves(spec["properties"], prefix + name + ".")
        else:
            yield prefix + name


print(json.dumps({"leaves": sorted(leaves(
    schema["definitions"]["rtseg"]["properties"]["ros__parameters"]["properties"]))}))
for path in sys.argv[2:]:
    errors = sorted(validator.iter_errors(yaml.safe_load(open(path))), key=str)
    print(json.dumps({"file": path, "valid": not errors,
                      "error": errors[0].message if errors else None}))
