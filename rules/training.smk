# Training stage (filled in by its issue). Defines training_targets() for rule all.


def training_targets():
    return []
