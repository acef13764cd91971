"""Bake once, verify everywhere: images of a pool's hosts with the baseline and the release
applied once on a builder host (digest.py: what goes into one; bake.py: make, record and find
them; verify.py: one probe task per host launched from one, the full role only where it
differs)."""
