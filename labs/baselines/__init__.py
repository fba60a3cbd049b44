"""The benches' baselines, written here from the published papers and built the plain way.

- :mod:`labs.baselines.johnson_net`: Johnson, Alahi & Fei-Fei's transformation network.
- :mod:`labs.baselines.gatys_algorithm`: Gatys, Ecker & Bethge's optimisation.

Each computes what its counterpart in ``style_transfer/`` computes, so a bench can check that the
outputs agree before it compares the times.
"""
