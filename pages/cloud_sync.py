from pages.ui import not_built

not_built("Cloud Sync", "sync artifacts with the Hugging Face Hub and a remote GPU host over SSH")
