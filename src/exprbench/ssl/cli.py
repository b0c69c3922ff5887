"""``exprbench`` subcommands of the ssl family."""


def add_commands(commands) -> None:
    pass
