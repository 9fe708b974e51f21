"""One module per screen of the desk; each has a `router` that `api.desk.app` mounts."""
