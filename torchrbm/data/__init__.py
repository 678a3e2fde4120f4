"""Data: row sources (memory, .npy, iterables), data sets and their registry, preprocessing."""
