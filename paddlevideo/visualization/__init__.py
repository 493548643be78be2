"""Plots people look at: training curves from a log (:mod:`.training_log`) and attention over frames
(:mod:`.attention`). matplotlib is imported inside the plotting functions only."""
