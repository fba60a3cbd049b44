"""One network for any painting: adaptive instance normalisation (Huang & Belongie 2017).

    make stylize METHOD=arbitrary STYLE_IMAGE=painting.jpg CONTENT=photo.jpg
    make train-arbitrary                    # a decoder of your own (folders: PHOTOS=, STYLES=)

``encoder`` (a frozen pretrained loss network), ``adain`` (the statistics and their blend),
``decoder``, ``net`` (the three as one photo-to-photo module), ``loss``, ``data``, ``recipe`` and
``train`` (the decoder's training), ``model_file`` (decoder files, the shipped one), ``run``
(the stylize command's arbitrary half).
"""
