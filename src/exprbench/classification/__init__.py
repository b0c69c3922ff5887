"""Classification of labelled expression profiles: linear and non-linear models, with
and without linear signal removal (the linear-vs-non-linear-signal paper)."""

from ..family import Family

# Its keys sit at the config's top level (tasks:, defaults:), as they always have.
FAMILY = Family(name="classification", title="classification", config_keys=("tasks",), order=10)
