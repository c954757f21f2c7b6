"""Statistics shared by every area: bootstrap confidence intervals, selection-bias corrections."""
