"""Analysis stage: component importance, component selection, figures, hidden representations."""
