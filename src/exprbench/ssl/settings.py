"""The ``ssl``: config section (placeholder until the family lands)."""


def resolve(section: dict, config: dict, file) -> dict:
    return section


def labels_used(resolved: dict) -> dict[str, list[str]]:
    return {}


def jobs(resolved: dict) -> list[dict]:
    return []
