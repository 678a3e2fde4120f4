"""Leaf helpers every layer may use: argument checks, atomic files, matmul dispatch, random numbers,
progress lines, thread policy and grad mode.  Private: not part of the public API."""
