"""Retinopathy data: from a dataset folder to augmented tensors.

- ``sources``    read EyePACS / APTOS / Messidor-2 / IDRiD / CSV / class folders into records
- ``preprocess`` OpenCV fundus crop (and Graham mode) with reduced-resolution JPEG decoding
- ``cache``      ``prepare``: preprocess once, in parallel, resumable; per-split mean/std
- ``splits``     stratified train/val/test by patient, saved as CSV
- ``augment``    torchvision-v2 training and evaluation transforms on uint8 tensors
- ``dataset``    the torch Dataset over the cache
- ``samplers``   class-weighted sampling (natural .. balanced) through the DDP sampler
- ``synthetic``  the built-in synthetic sample set in the EyePACS layout
"""
