"""The application layer: what a screen or a CLI verb asks of the engine, in one place.

    jobs      submit (validate, queue, make sure a worker runs), cancel, resume, delete, read
    searches  the found cell and the best cell so far, architecture roles, the plan line
    models    stored detectors, their evaluations and thresholds, loading and predicting (cached)
    demo      the Guided demo's own chain of jobs and where its walk stands

nasdet_gui imports only this package, core.viz and core.errors. The functions here compose the
domain packages (core.data, core.nas, core.train, core.det) and the engine; they hold no
algorithm of their own.
"""
