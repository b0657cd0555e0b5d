"""General ability through OpenCompass, in its own environment (.venv-opencompass), and lm-eval's cross-check.

run        one offline OpenCompass run per model x method: config, data, process, summary -> metrics.json
config     the generated OpenCompass config (the project's templates beside OpenCompass's)
data       the sampled splits as the flat rows OpenCompass's datasets read
plugins    the dataset and evaluators the generated configs import (loaded inside OpenCompass's env)
process    starting OpenCompass and its template renderer in their env; failure messages
summary    reading OpenCompass's summary and per-item details
templates  run inside OpenCompass's env: describe templates, render a benchmark's chat turns
crosscheck the same items scored a second time by lm-eval: prompts, joining, the gap flag
lm_eval    lm-eval's run (main env)
"""
