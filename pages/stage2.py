from pages.ui import not_built

not_built("Stage 2", "import or train Stage 1 (Keras) and train the LightGBM Stage 2 classifier")
