from pages.ui import not_built

not_built("Training", "train UnifiedPatchTST and DirectionPredictor models as background jobs")
