"""Sub-commands of ``python -m style_transfer``: one module each, ``add_arguments`` + ``run``.

Each ``run`` turns its flags into a request (a dataclass of the library) and calls one library
function: ``stylize`` -> :func:`style_transfer.request.run_stylize`, ``train`` ->
:func:`style_transfer.johnson.train.train_style`, ``train-arbitrary`` ->
:func:`style_transfer.arbitrary.train.train_arbitrary`, ``video`` ->
:func:`style_transfer.video.stream.run_video`, ``styles`` ->
:func:`style_transfer.styles.sheet.draw_style_sheet`, ``paint`` ->
:func:`style_transfer.styles.painters.paint_styles`.
"""
