"""KlineLab: the router (st.navigation over the pages) and the common frame."""
import streamlit as st

from storage.workspace import Workspace, default_home

st.set_page_config(page_title="KlineLab", page_icon=":material/candlestick_chart:", layout="wide")


@st.cache_resource(show_spinner=False)
def _startup_cleanup(home: str) -> int:
    """Once per server process and workspace: dead writers' staging folders, interrupted publishes."""
    from storage.cleanup import clean_stale_staging

    return clean_stale_staging(Workspace.open(home))


_startup_cleanup(str(default_home()))

PAGES = [
    st.Page("pages/home.py", title="Home", icon=":material/home:", default=True),
    st.Page("pages/data.py", title="Data", icon=":material/database:", url_path="data"),
    st.Page("pages/features.py", title="Features", icon=":material/functions:", url_path="features"),
    st.Page("pages/analysis_report.py", title="Analysis Report", icon=":material/analytics:", url_path="analysis-report"),
    st.Page("pages/training.py", title="Training", icon=":material/model_training:", url_path="training"),
    st.Page("pages/stage2.py", title="Stage 2", icon=":material/account_tree:", url_path="stage2"),
    st.Page("pages/backtest.py", title="Backtest", icon=":material/query_stats:", url_path="backtest"),
    st.Page("pages/cloud_sync.py", title="Cloud Sync", icon=":material/cloud_sync:", url_path="cloud-sync"),
]

st.navigation(PAGES).run()
