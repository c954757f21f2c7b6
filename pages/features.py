from pages.ui import not_built

not_built("Features", "build 150+ leakage-free features, 24 targets, ZigZag pivots and the leakage audit")
