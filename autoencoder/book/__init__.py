"""The book: figures, tables, claims tables, the static explorer and the widgets.

Needs the ``book`` extra (matplotlib, pillow, ipywidgets); imports every other layer.
"""
