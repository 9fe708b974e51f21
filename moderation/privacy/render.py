"""Everything held about a person as one readable HTML page.

The template autoescapes: mentions are what strangers wrote, platform HTML included, so every
value is printed as text, never as markup (the HTML a platform sent is shown as its source).
"""

from __future__ import annotations

import json
from typing import Any

from jinja2 import Environment, StrictUndefined

from moderation.privacy.schemas import PersonDataOut

#: Sent with the page: no scripts, no fetches, inline styles only.
HTML_POLICY = {"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'"}

_TEMPLATE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>What Luister holds about author {{ data.author_id }}</title>
<style>
body { font: 15px/1.5 system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; color: #222; }
h1 { font-size: 1.5rem; } h2 { font-size: 1.2rem; margin-top: 2rem; }
table { border-collapse: collapse; width: 100%; margin: .5rem 0; }
th, td { border: 1px solid #ccc; padding: .3rem .5rem; text-align: left; vertical-align: top; }
th { background: #f4f4f4; width: 12rem; }
.mention { border: 1px solid #ccc; border-radius: 4px; padding: .5rem 1rem; margin: 1rem 0; }
.text { white-space: pre-wrap; }
pre { white-space: pre-wrap; word-break: break-all; background: #f8f8f8; padding: .5rem; }
.muted { color: #666; }
</style>
</head>
<body>
<h1>What Luister holds about author {{ data.author_id }}</h1>
<p class="muted">Generated {{ data.generated_at.isoformat() }}:
{{ data.identities | length }} identities, {{ data.mentions | length }} mentions,
{{ data.outbox | length }} replies, {{ data.audit | length }} audit entries.</p>

<h2>Identities</h2>
<table>
<tr><th>id</th><th>platform</th><th>platform id</th><th>handle</th><th>name</th>
<th>profile</th><th>followers</th><th>first seen</th><th>last seen</th></tr>
{% for a in data.identities %}
<tr><td>{{ a.id }}</td><td>{{ a.platform }}</td><td>{{ a.platform_id }}</td>
<td>{{ a.handle or "" }}</td><td>{{ a.display_name or "" }}</td>
<td>{{ a.profile_url or "" }}</td><td>{{ a.followers if a.followers is not none else "" }}</td>
<td>{{ a.first_seen_at.isoformat() }}</td><td>{{ a.last_seen_at.isoformat() }}</td></tr>
{% endfor %}
</table>
{% if data.links %}
<h3>Linked by staff as one person</h3>
<ul>
{% for link in data.links %}
<li>{{ link.author_id }} and {{ link.linked_author_id }} ({{ link.created_at.isoformat() }})
{%- if link.note %}: {{ link.note }}{% endif %}</li>
{% endfor %}
</ul>
{% endif %}

<h2>Notes about the person</h2>
{% for n in data.notes %}
<p><span class="muted">{{ n.created_at.isoformat() }}, {{ n.by or "unknown" }}:</span>
<span class="text">{{ n.body }}</span></p>
{% else %}
<p class="muted">None.</p>
{% endfor %}

<h2>Mentions</h2>
{% for m in data.mentions %}
<div class="mention">
<table>
<tr><th>mention</th><td>{{ m.id }} on {{ m.platform }} ({{ m.source }})</td></tr>
<tr><th>written</th><td>{{ m.created_at.isoformat() }}</td></tr>
<tr><th>heard</th><td>{{ m.fetched_at.isoformat() }}</td></tr>
<tr><th>platform id</th><td>{{ m.external_id }}</td></tr>
<tr><th>link</th><td>{{ m.url or "" }}</td></tr>
<tr><th>text</th><td class="text">{{ m.text }}</td></tr>
{% if m.html %}<tr><th>HTML as received</th><td><pre>{{ m.html }}</pre></td></tr>{% endif %}
<tr><th>language</th><td>{{ m.language or "" }}</td></tr>
<tr><th>sentiment</th><td>{{ m.sentiment or "" }}</td></tr>
<tr><th>intents</th><td>{{ m.intents | join(", ") }}</td></tr>
<tr><th>topics</th><td>{{ m.topics | join(", ") }}</td></tr>
<tr><th>tags</th><td>{{ m.tags | join(", ") }}</td></tr>
<tr><th>queue status</th><td>{{ m.status or "" }}</td></tr>
<tr><th>engagement</th><td>likes {{ m.likes if m.likes is not none else "?" }},
reposts {{ m.reposts if m.reposts is not none else "?" }},
replies {{ m.replies if m.replies is not none else "?" }}</td></tr>
{% for n in m.notes %}
<tr><th>staff note</th><td class="text">{{ n.created_at.isoformat() }}, {{ n.by or "unknown" }}:
{{ n.body }}</td></tr>
{% endfor %}
{% for r in m.responses %}
<tr><th>answered</th><td>{{ r.responded_at.isoformat() }} ({{ r.kind }})
{{ r.url or "" }} {{ r.note or "" }}</td></tr>
{% endfor %}
{% for a in m.appreciations %}<tr><th>appreciated</th><td>{{ a }}</td></tr>{% endfor %}
{% if m.raw %}<tr><th>payload as received</th><td><pre>{{ m.raw | tojson_text }}</pre></td></tr>
{% endif %}
</table>
</div>
{% else %}
<p class="muted">None.</p>
{% endfor %}

<h2>Replies to them</h2>
{% for o in data.outbox %}
<p><span class="muted">{{ o.created_at.isoformat() }}, to mention {{ o.mention_id }},
{{ o.status }}:</span> <span class="text">{{ o.body }}</span></p>
{% else %}
<p class="muted">None.</p>
{% endfor %}

<h2>Audit entries concerning them</h2>
<table>
<tr><th>id</th><th>when</th><th>who</th><th>what</th><th>details</th></tr>
{% for e in data.audit %}
<tr><td>{{ e.id }}</td><td>{{ e.created_at.isoformat() }}</td><td>{{ e.actor }}</td>
<td>{{ e.action }} {{ e.entity }} {{ e.entity_id }}</td>
<td><pre>{{ {"before": e.before, "after": e.after} | tojson_text }}</pre></td></tr>
{% endfor %}
</table>
</body>
</html>
"""


def _json_text(value: Any) -> str:
    # Plain JSON text, escaped by the template like any other text (unlike Jinja's `tojson`).
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False, default=str)


_env = Environment(autoescape=True, undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
_env.filters["tojson_text"] = _json_text
_template = _env.from_string(_TEMPLATE)


def render_html(data: PersonDataOut) -> str:
    """The page, every value escaped."""
    return _template.render(data=data)
