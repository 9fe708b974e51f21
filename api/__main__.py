"""`python -m api` is the same as `luister`."""

from api.cli import app

app(prog_name="luister")
