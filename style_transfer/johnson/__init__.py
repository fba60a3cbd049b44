"""Johnson, Alahi & Fei-Fei's feed-forward style networks: trained once per style, one pass per
photo.

- :mod:`~style_transfer.johnson.net`         the image transformation network
- :mod:`~style_transfer.johnson.model_file`  fp16 safetensors files that rebuild it alone
- :mod:`~style_transfer.johnson.loss`        the perceptual training loss
- :mod:`~style_transfer.johnson.photos`      training photos: a folder, or the demo set
- :mod:`~style_transfer.johnson.recipe`      a training run's settings and schedule
- :mod:`~style_transfer.johnson.train`       training runs: new, resumed, saved and registered
- :mod:`~style_transfer.johnson.infer`       one photo, batches of any sizes, folders
- :mod:`~style_transfer.johnson.tiles`       the memory budget, tiles sharing instance-norm stats
- :mod:`~style_transfer.johnson.export`      ONNX with dynamic sizes
- :mod:`~style_transfer.johnson.run`         the stylize command's Johnson half
"""
