"""Internals of the deltaflow package; not a public API."""
