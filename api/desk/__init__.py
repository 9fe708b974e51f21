"""The desk: the web app community managers work in all day, served at `/` beside the API.

Server-rendered pages (Jinja2) progressively enhanced with htmx (vendored in `static/vendor`),
signed in with the staff accounts, English and Dutch. See docs/DESK.md.
"""

from api.desk.app import install_desk

__all__ = ["install_desk"]
