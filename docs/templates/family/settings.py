"""The `toy:` config section: validation, defaults and the job list."""

from ..config import validate_section

SCHEMA = "exprbench.toy/schema.yaml"


def resolve(section, config, file):
    """The section checked and completed; errors name the file and the key
    (raise exprbench.config.ConfigError for checks a schema cannot express)."""
    validate_section(section, SCHEMA, file, "toy")
    return section


def labels_used(resolved):
    """Labels each dataset must provide ({dataset: [label, ...]}); checked when it is prepared."""
    return {}


def jobs(resolved):
    """One dict of wildcard values per heavy job."""
    return [{"value": value} for value in resolved["values"]]
