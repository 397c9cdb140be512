"""Plugins that let other tools read and write through ometiff.

* :mod:`ometiff.plugins.napari`: the napari (npe2) reader and writer, declared by
  ``napari.yaml`` beside it and the ``napari.manifest`` entry point; napari itself is
  not imported, so the hooks are tested without a display;
* :mod:`ometiff.plugins.napari_widget`: napari's "Open series" widget (imports napari);
* :mod:`ometiff.plugins.bioio`: the bioio reader plugin (``bioio.readers``).

They sit on top of the read API (:func:`ometiff.open`) and the writer
(:func:`ometiff.write`); ``import ometiff`` imports none of them.
"""
