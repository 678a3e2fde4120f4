"""Training: fit's settings and epoch loop, regularisers, divergence guard, callbacks and history,
checkpoint and resume, signals, distributed agreement, precision."""
