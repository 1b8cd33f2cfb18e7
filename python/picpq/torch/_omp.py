"""Imported first by picpq.torch: OpenMP's wait policy is read once, when
torch loads, so it is set before torch is imported (pipeline.configure_threads
says why). An OMP_WAIT_POLICY already in the environment is kept."""
import os
import sys

if "torch" not in sys.modules:
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
