"""Retinopathy data: from a dataset folder to augmented tensors.

- ``sources``        read EyePACS / APTOS / Messidor-2 / IDRiD / CSV / class folders into records
- ``label_tables``   their label CSV files, read strictly (a bad file one line, a bad row rejected)
- ``preprocess``     OpenCV fundus crop (and Graham mode) with reduced-resolution JPEG decoding
- ``cache``          the prepare job: preprocess once, in parallel, resumable
- ``prepared``       the prepared set it leaves: cached photos, their index, per-split mean/std
- ``workers``        one process per core for per-photo work
- ``splits``         stratified train/val/test by patient, saved as CSV
- ``augment``        torchvision-v2 training and evaluation transforms on uint8 tensors
- ``dataset``        the torch Dataset over the cache
- ``samplers``       class-weighted sampling (natural .. balanced) through the DDP sampler
- ``run_data``       one run's prepared set, split and three datasets
- ``synthetic``      the built-in sample set in the EyePACS layout (its manifest and generation)
- ``fundus_drawing`` the drawn eyes and lesions the sample set is made of
"""
