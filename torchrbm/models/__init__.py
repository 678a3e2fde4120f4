"""Models: the interface samplers, estimators and training rely on, and the models built on it."""
