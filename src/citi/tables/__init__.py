"""The paper's tables from metrics files: specs (rows, columns), building, rendering, the trade-off plot."""
