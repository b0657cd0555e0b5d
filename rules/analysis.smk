# Analysis stage (filled in by its issue). Defines analysis_targets() for rule all.


def analysis_targets():
    return []
