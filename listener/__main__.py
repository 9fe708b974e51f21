"""`python -m listener` is the same as `luister`."""

from listener.cli import app

app(prog_name="luister")
