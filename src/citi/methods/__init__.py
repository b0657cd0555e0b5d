"""Parameter-efficient methods, one folder each (config, layer, injector)."""
