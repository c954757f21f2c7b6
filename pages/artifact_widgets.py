"""Artifacts by name (issue 15 item 1): the one label helper every picker and table uses (the name the
user gave, the id as a secondary column / in the detail view), and the widget that renames, tags,
annotates and deletes the artifact being viewed.  The work is storage's (``edit_artifact``,
``delete_artifact``, ``descendants``); this module only draws it."""
from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

import pandas as pd
import streamlit as st

from config.errors import KlineLabError
from pages.ui import show_table, user_errors, workspace
from storage.schema import MAX_NAME, MAX_NOTE

NOTICE = "artifacts.notice"  # session key: what the last rename / delete did (shown after the rerun)
RELABEL = "artifacts.relabel"  # session key: ids renamed in the last run (their pickers get the new label)


def _relabel_pickers() -> None:
    """After a rename: a picker's browser side holds the label it showed (Streamlit keeps a select's
    value as its label), so it would show the old name and send it back as an unknown value.  Setting
    every session value that holds a renamed id again makes Streamlit send the picker its new label."""
    from streamlit.errors import StreamlitAPIException

    ids = set(st.session_state.pop(RELABEL, None) or ())
    if not ids:
        return
    for k in list(st.session_state.keys()):
        try:
            v = st.session_state[k]
            if (isinstance(v, str) and v in ids) or (isinstance(v, list) and ids & {x for x in v if isinstance(x, str)}):
                st.session_state[k] = list(v) if isinstance(v, list) else v
        except (StreamlitAPIException, KeyError):  # a widget already drawn in this run, a button: left as it is
            continue


@st.cache_data(show_spinner=False, max_entries=4096)
def _name_at(path: str, mtime_ns: int) -> str | None:
    from storage.manifest import Manifest

    try:
        return Manifest.read(Path(path)).name or None
    except (OSError, KlineLabError):
        return None


def _names(ids: tuple[str, ...]) -> dict[str, str]:
    """Each id's name from its manifest (the truth; ~1 ms each, cached per manifest mtime: cheaper than
    a catalog connection on a loaded machine); an id that is no artifact keeps itself."""
    ws = workspace()
    out = {}
    for i in ids:
        name = None
        try:
            d = ws.find_artifact_dir(i)
            if d is not None:
                p = d / "manifest.json"
                name = _name_at(str(p), p.stat().st_mtime_ns)
        except (OSError, KlineLabError):
            name = None
        out[i] = name or i
    return out


def artifact_names(ids: Iterable[str], fallback: dict[str, str] | None = None, *,
                   known: dict[str, str] | None = None) -> dict[str, str]:
    """``{id: label}``: each artifact's name; two with the same name get their id's last 6 characters
    (``name · #4e3129``); an id that is no artifact (yet) gets its ``fallback`` name (a training run in
    progress) or stays itself.  ``known``: names just read from the catalog (long listings), used as
    they are instead of reading the manifests."""
    _relabel_pickers()
    ids = tuple(dict.fromkeys(str(i) for i in ids if i))
    if not ids:
        return {}
    known = {i: n for i, n in (known or {}).items() if n}
    names = dict(known) | _names(tuple(i for i in ids if i not in known))
    names = {i: (n if n != i else (fallback or {}).get(i) or i) for i, n in names.items()}
    seen: dict[str, int] = {}
    for i in ids:
        seen[names.get(i, i)] = seen.get(names.get(i, i), 0) + 1
    return {i: (f"{names.get(i, i)} · #{i[-6:]}" if seen[names.get(i, i)] > 1 and names.get(i, i) != i else names.get(i, i))
            for i in ids}


def by_name(ids: Iterable[str], fallback: dict[str, str] | None = None, *,
            known: dict[str, str] | None = None) -> Callable[[str], str]:
    """``format_func`` for a picker over artifact ids: shows names, keeps ids as the values."""
    labels = artifact_names(ids, fallback, known=known)
    return lambda i: labels.get(i, str(i))


def artifact_label(artifact_id: str) -> str:
    return artifact_names([artifact_id]).get(artifact_id, artifact_id)


def _show_notice() -> None:
    msg = st.session_state.pop(NOTICE, None)
    if msg:
        st.success(msg, icon=":material/check:")


def manage_artifact(artifact_id: str, *, key: str) -> None:
    """An expander to rename / tag / annotate / delete the artifact being viewed (its id shown there).
    Nothing when ``artifact_id`` is not (yet) an artifact, e.g. a training run still running."""
    from storage.artifacts import read_manifest

    _show_notice()
    if not artifact_id:
        return
    ws = workspace()
    try:
        m = read_manifest(ws, artifact_id)
    except KlineLabError:
        return
    k = f"{key}.{artifact_id}"
    st.caption(f"**{m.name}** · {m.kind} · id `{artifact_id}`" + (f" · tags: {', '.join(m.tags)}" if m.tags else ""))
    with st.expander("Rename, tag, note, delete", icon=":material/edit:"):
        st.caption(f"created {m.created_at}" + (f" · edited {m.edited_at}" if m.edited_at else ""))
        name = st.text_input("Name", value=m.name, max_chars=MAX_NAME, key=f"{k}.name")
        tags = st.multiselect("Tags", list(m.tags), default=list(m.tags), accept_new_options=True,
                              key=f"{k}.tags", placeholder="add a tag (one word: keep, baseline, v2 ...)")
        note = st.text_area("Note", value=m.note, max_chars=MAX_NOTE, height=80, key=f"{k}.note")
        c1, c2, _ = st.columns([1, 1, 3])
        if c1.button("Save", type="primary", key=f"{k}.save"):
            _save(artifact_id, m, name, tags, note)
        if c2.button("Delete ...", key=f"{k}.delete"):
            _confirm_delete(artifact_id, k)


def _save(artifact_id: str, m, name: str, tags: list[str], note: str) -> None:
    from storage.artifacts import edit_artifact

    changes = {"name": name if name.strip() != m.name else None,
               "add_tags": [t for t in tags if t not in m.tags],
               "remove_tags": [t for t in m.tags if t not in tags],
               "note": note if note.strip() != m.note else None}
    if changes["name"] is None and changes["note"] is None and not changes["add_tags"] and not changes["remove_tags"]:
        st.info("Nothing changed.")
        return
    with user_errors():
        new = edit_artifact(workspace(), artifact_id, **changes)
        st.session_state[NOTICE] = f"Saved: {new.name}" + (f" · tags {', '.join(new.tags)}" if new.tags else "")
        st.session_state[RELABEL] = [artifact_id]
        st.cache_data.clear()
        st.rerun()


@st.dialog("Delete artifact", width="medium")
def _confirm_delete(artifact_id: str, k: str) -> None:
    from storage.artifacts import delete_artifact, descendants, read_manifest

    ws = workspace()
    with user_errors():
        m = read_manifest(ws, artifact_id)
        desc = descendants(ws, artifact_id)
        st.markdown(f"Delete **{m.name}** (`{artifact_id}`, {m.kind})? Its folder and its catalog entry go; "
                    "this cannot be undone.")
        both = False
        if desc:
            st.warning(f"{len(desc)} other artifact(s) were made from it; it cannot be deleted alone:",
                       icon=":material/account_tree:")
            show_table(pd.DataFrame(desc)[["name", "kind", "id"]], hide_index=True, width="stretch")
            both = st.checkbox(f"Delete these {len(desc)} too", key=f"{k}.with-desc")
        c1, c2 = st.columns(2)
        if c1.button("Delete", type="primary", key=f"{k}.confirm"):
            gone = delete_artifact(ws, artifact_id, with_descendants=both)
            st.session_state[NOTICE] = f"Deleted {m.name}" + (f" and {len(gone) - 1} artifact(s) made from it"
                                                               if len(gone) > 1 else "")
            st.cache_data.clear()
            st.rerun()
        if c2.button("Keep it", key=f"{k}.keep"):
            st.rerun()
