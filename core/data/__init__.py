"""Datasets: one internal COCO form in <home>/datasets/<name>/, built-in generators, importers
with a validation report, the training pipeline and the NAS proxy data.

Modules: internal (the form, atomic registration), generate (shapes, glyphs), importers +
formats/ (COCO, VOC, YOLO) + archive (safe .zip) + report, images (read_rgb), transforms
(letterbox, augmentation), dataset (DetectionDataset, collate), proxy (load_proxy), stats,
export, spec (job specs), tasks (GENERATE, IMPORT), cli. Previews with boxes drawn are
core.viz.previews.
"""
