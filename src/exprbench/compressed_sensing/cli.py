"""``exprbench`` subcommands of the compressed_sensing family."""


def add_commands(commands) -> None:
    pass
