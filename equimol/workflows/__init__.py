"""End-to-end workflows built from the library (the demo / main job)."""
