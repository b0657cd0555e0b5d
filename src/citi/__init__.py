"""citi: reusable code of the CITI experiment pipeline.

Data flows one way: raw source -> sampled split -> training mixture -> checkpoint
-> predictions -> metrics -> tables. Each stage is a subpackage; Snakemake rules
call thin scripts in ``scripts/`` that call into here.
"""

__version__ = "0.1.0"
