from pages.ui import not_built

not_built("Analysis Report", "compute and browse feature-analysis reports (statistics, importance, outliers, drift)")
