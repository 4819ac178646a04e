"""Inference on raw inputs from a trained run: per-head predictors, streamed rows."""
