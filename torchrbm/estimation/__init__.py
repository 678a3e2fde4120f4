"""Estimation: pure functions of a model and data (AIS, exact log Z and log-likelihood, pseudo-likelihood,
reconstruction error, free-energy gap) and :func:`evaluate`, which reports them together."""
