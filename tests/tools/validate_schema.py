"""Validates scenario files against scenarios/scenario.schema.json with the
reference JSON Schema validator (python-jsonschema, Draft 7), reading YAML
as an editor's yaml-language-server does: keys are strings, times stay text.

usage: validate_schema.py SCHEMA FILE...
Prints "OK FILE" or "INVALID FILE: message" per file; exits 1 if any is invalid.
"""
import json
import sys

import jsonschema
import yaml


class TextLoader(yaml.SafeLoader):
    """SafeLoader without the timestamp resolver: `clock:` stays a string."""


TextLoader.yaml_implicit_resolvers = {
    first: [(tag, regex) for tag, regex in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def keys_as_text(value):
    if isinstance(value, dict):
        return {str(k): keys_as_text(v) for k, v in value.items()}
    if isinstance(value, list):
        return [keys_as_text(v) for v in value]
    return value


def main():
    with open(sys.argv[1]) as f:
        schema = json.load(f)
    validator = jsonschema.Draft7Validator(schema)
    failed = False
    for path in sys.argv[2:]:
        with open(path) as f:
            document = keys_as_text(yaml.load(f, Loader=TextLoader))
        error = jsonschema.exceptions.best_match(validator.iter_errors(document))
        if error is None:
            print(f"OK {path}")
        else:
            failed = True
            where = "/".join(str(p) for p in error.absolute_path)
            print(f"INVALID {path}: {where}: {error.message}")
    sys.exit(1 if failed else 0)


main()
