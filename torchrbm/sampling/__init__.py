"""Sampling: negative-phase samplers (CD, PCD, PT, exact), tempered paths and exact enumeration."""
