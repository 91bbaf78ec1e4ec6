"""Visualisation: pure functions, data in -> plotly Figure (or RGB image) out; never the store.

Modules (import the one you need; plotly and OpenCV load on import):
  cell_graph   cell_figure(genotype, "normal"|"reduce"), compare_figure(a, b, cell), layout_cell
  cell_layout  layout_cell (the geometry), cell_traces  cell_traces (plotly trace dicts)
  alphas       alpha_figure(snapshots) (DARTS softmax heatmaps + derived cell, epoch slider),
               load_alphas(path)
  curves       search_progress_figure, search_tradeoff_figure (Pareto front), training_figure,
               metrics_figure, pareto_front
  detections   class_color, draw_boxes, draw_comparison (TP / FP / misses), image_grid
  previews     preview_images(dataset info, split, n, seed), draw_ground_truth (crowd dashed)
  evaluation   pr_curves_figure, per_class_ap_figure, confusion_figure (evaluate_coco's dict)
  stats        dataset_stats_figure (core.data.stats.compute_stats's dict)
  common       figure_to_html (standalone page, plotly.js inline), empty_figure, base_layout
"""
