"""Videos through a trained style network.

- :mod:`~style_transfer.video.stream`    decode -> batched inference -> encode, in threads
- :mod:`~style_transfer.video.codec`     probing (exact frame rate, audio) and the writers
- :mod:`~style_transfer.video.temporal`  optical flow, flicker (warping error), stabilisation
"""
