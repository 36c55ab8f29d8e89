"""Faces for people: top, the demo, doctor."""
