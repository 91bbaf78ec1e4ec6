"""The detector search (`search --level detector`, job kind `search.detector`): the searched cells
combined with EfficientDet's input size, BiFPN width and depth and head depth, each trial a real
training on the dataset, scored by val AP50 and by latency on the job's device.

    space    the space as data (DetectorSpace, DetectorChoice, the default detector)
    config   the job spec, its validation and the backbones resolved at submit
    plan     fidelity: the epoch rungs, the top rung sized to the minutes
    pick     the objective (MnasNet reward), the Pareto front, the pick for a target
    trial    one trial: a Trainer judged at its rungs, cut at the deadline
    study    the Optuna study (TPE + successive halving) in runs/<id>/study.db; the pick stored
    results  the trials as architectures rows, read back
    tasks    the TaskDef of `search.detector` (its run: study.run_detector_search)

A package of its own above core.train and core.det (it trains detectors), which import core.nas
(cells as backbones) but never this package.
"""
