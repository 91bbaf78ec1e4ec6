"""The Guided demo tab in parts: texts (plain words for every number), live (what moves on
screen while jobs run), ending (detections, the score in words, a picture of one's own) and
layout (the components); nasdet_gui/guided_tab.py wires them to the store."""
