"""The Streamlit dashboard: entry point, navigation, sign-in gate and shared widgets."""
