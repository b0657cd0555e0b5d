"""Hidden-representation analysis (CITI §2): how a fine-tuned model's hidden states move, per task.

shifts  probes, last-token states per layer, cosines, PCA
report  shift vectors, cosine curves and heatmaps, PCA plots of one analysis
"""
