"""Gatys, Ecker & Bethge's style transfer: the image itself is optimised.

- :mod:`~style_transfer.gatys.config`    ``GatysConfig``: the method's choices and defaults
- :mod:`~style_transfer.gatys.optimise`  targets, objective, the LBFGS / Adam / SGD loop, scales
- :mod:`~style_transfer.gatys.precision` what the loss network computes in (``--precision``)
- :mod:`~style_transfer.gatys.run`       the stylize command's Gatys half: files in, files out
"""
