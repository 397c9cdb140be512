"""Plugins that let other tools read and write through ometiff.

* :mod:`ometiff.plugins.napari`: the napari (npe2) plugin, declared by
  ``napari.yaml`` beside it and the ``napari.manifest`` entry point;
* :mod:`ometiff.plugins.bioio`: the bioio reader plugin (``bioio.readers``).

Both sit on top of the read API (:func:`ometiff.open`) and the writer
(:func:`ometiff.write`); neither is imported by ``import ometiff``.
"""
