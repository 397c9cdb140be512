"""``ometiff view``: a local web app to look inside any input and to convert files.

:mod:`~ometiff.viewer.paths` decides which paths the app may read or list,
:mod:`~ometiff.viewer.images` serves tiles, histograms and pixel values through the
readers, :mod:`~ometiff.viewer.jobs` runs conversions one at a time with progress and
cancel, and :mod:`~ometiff.viewer.server` is the Starlette app and its runner.
Starlette and uvicorn come with the ``view`` extra (``pip install "ometiff[view]"``).
"""
