"""Pure plotly figure builders: take DataFrames, return figures, never import streamlit."""
