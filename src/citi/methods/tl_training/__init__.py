"""TL-Training (docs/tl-training.md), beside CITI's MOLoRA: the method's own pieces, used by a training stage.

pkt  prioritized key tokens: a higher loss weight on a call's tool name and keys
irm  the IRM stage: rewards from the tool-call error taxonomy, on-policy RL from the stage's input model
ppo  PPO and GRPO for that stage
(The per-turn training data and MAE's filtering of erroneous turns are data steps: citi.data.tool_turns.)
"""
