"""NASDet Studio's Gradio app: one module per tab, composed by `nasdet_gui.app.build_app`.

Handlers here are thin adapters over `core`: they validate through the engine, submit jobs and
read the store. No job runs inside a Gradio event; gr.Timer ticks poll the store.
"""
