"""Training stages: data collation, parameter groups, method registry, trainer, checkpoints.

One job trains one stage of one method (``stage.run_stage``); the next stage
loads its folder. See docs in each module and citi-method.md sections 4-5.
"""
