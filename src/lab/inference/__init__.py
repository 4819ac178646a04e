"""Inference on raw inputs from a trained run: the shared `Predictor` and `Generator` bases,
`predictor_for` (a run's head names its predictor in its task YAML), streamed input and output rows.
"""
