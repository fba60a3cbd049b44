"""visionlab's engine: devices, backbones, training loop, checkpoints, runs and plots.

Nothing here knows about fundus photos or paintings; the apps build on it.
"""
