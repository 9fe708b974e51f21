"""The demo's sandbox platform: a Mastodon-shaped API served in-process on 127.0.0.1.

`state` holds its accounts and statuses (kept in a file next to the demo database), `app` is the
ASGI app, `community` decides who answers our questions and what they say, `server` serves it
from a thread of its own, and `demo` ties it to the demo database and `luister serve`.
"""
