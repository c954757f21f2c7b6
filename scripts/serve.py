"""Start the app: ``python scripts/serve.py [streamlit options]`` (what ``make run`` and the
Docker image do).

Home.py routes with ``st.navigation``.  Streamlit still treats a ``pages/`` folder next to the
entry script as a legacy auto-discovered page list until the first run of Home.py switches
that off, so a first visit straight to a deep link (``/features``) would show every file of
``pages/`` (helpers included) as a page.  Switching the legacy mode off before the server
starts makes Home.py's navigation the only one from the first request.
"""
import sys
from pathlib import Path

from streamlit.runtime.pages_manager import PagesManager
from streamlit.web import cli

ROOT = Path(__file__).resolve().parent.parent
PagesManager.uses_pages_directory = False
# klinelab_app.py serves Home.py as an st.App behind a Host-header guard (DNS rebinding) and
# anti-framing headers; see that file
sys.argv = ["streamlit", "run", str(ROOT / "klinelab_app.py"), *sys.argv[1:]]
sys.exit(cli.main())
