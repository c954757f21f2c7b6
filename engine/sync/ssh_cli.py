"""`sync ssh` commands."""


def register_ssh(sub, parser_class) -> None:
    pass
