# Tables stage (filled in by its issue). Defines table_targets() for rule all.


def table_targets():
    return []
