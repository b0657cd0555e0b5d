"""Component importance (CITI §1) and the component sets chosen from it.

components  the components scored and selected: every linear module of every decoder layer
encoding    chat records as token ids, with the answer tokens the loss is on
forward     decoder passes the estimators share (answer losses, cached layer inputs)
taylor      the paper's score, Σ_t |⟨∂L/∂y_t, y_t⟩| (importance.method: taylor), and the score files
ablation    exact ablation: the loss increase when a component's output is replaced
integrated  the path integral of ⟨∂L/∂y, y⟩ from y to 0
local       layer-local: the exact change of the layer output, linearised beyond it
estimators  the estimator a config names, and the job that scores one task with it
selection   the sets chosen from the normalised scores (MOLoRA, unfrozen, top/bottom/random k%)
figures     heatmaps, ranking-third overlaps, rank correlations
"""
