"""Reusable pieces shared by the per-domain definitions."""
