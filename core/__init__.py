"""NASDet Studio engine: store, jobs, datasets, EfficientDet, NAS and visualisation.

This package never imports gradio; `nasdet_gui` is a thin layer over it.
"""

__version__ = "0.1.0"
