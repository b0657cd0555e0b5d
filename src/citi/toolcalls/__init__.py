"""Tool calls, below training and evaluation: both import this package, and it imports neither.

syntax    the pipeline's call syntax ``[Name(key='value', ...)]``: writing, a strict parser, bounded JSON
api_bank  API-Bank's two readings of a call: the official parser and the corrected one
taxonomy  what is wrong with a predicted call (format, tool, parameters, values) and its reward
targets   the gold call of a training turn and the spans PKT weighs (tool name, keys)
"""
