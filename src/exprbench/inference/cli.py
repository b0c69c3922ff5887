"""``exprbench`` subcommands of the inference family."""


def add_commands(commands) -> None:
    pass
