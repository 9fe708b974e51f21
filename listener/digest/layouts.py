"""Jinja templates of the digest. The HTML uses tables and inline styles: mail clients ignore
most stylesheets, and Outlook lays out only tables reliably."""

# ruff: noqa: E501  (a Markdown table row is one line, however long)

MARKDOWN_TEMPLATE = """\
{% set t = v.t %}
# {{ v.title }}

{{ v.dates }} · {{ v.timezone }} · {{ t('filters') }}: {{ v.filters | md }} · {{ v.generated }}

## {{ t('glance') }}

{% for line in v.headline %}
- {{ line | md }}
{% endfor %}
{% if not v.quiet %}

## {{ t('volume') }}

| {{ t('day') }} | {{ t('mentions') }} |
|---|---:|
{% for d in v.days %}
| {{ d.label }} | {{ d.count }} |
{% endfor %}

| {{ t('period') }} | {{ t('mentions') }} |
|---|---:|
{% for w in v.trend %}
| {{ w.label }} | {{ v.n(w.count) }} |
{% endfor %}

### {{ t('by_source') }}

| {{ t('source') }} | {{ t('platform') }} | {{ t('mentions') }} | {{ t('previous') }} | {{ t('change') }} |
|---|---|---:|---:|---:|
{% for s in v.volume.by_source %}
| {{ s.source | md }} | {{ s.platform }} | {{ v.n(s.count) }} | {{ v.n(s.previous) }} | {{ v.pct(s.change) }} |
{% endfor %}

### {{ t('by_language') }}

| {{ t('language') }} | {{ t('mentions') }} | {{ t('previous') }} | {{ t('change') }} |
|---|---:|---:|---:|
{% for s in v.volume.by_language %}
| {{ s.language | md }} | {{ v.n(s.count) }} | {{ v.n(s.previous) }} | {{ v.pct(s.change) }} |
{% endfor %}
{% if v.sentiment.tagged %}

## {{ t('sentiment') }}

| | {{ t('mentions') }} | {{ t('share_now') }} | {{ t('share_before') }} | {{ t('change') }} |
|---|---:|---:|---:|---:|
{% for lbl in ['positive', 'neutral', 'negative'] %}
| {{ t(lbl) }} | {{ v.n(v.sentiment.counts[lbl]) }} | {{ v.share(v.sentiment.shares[lbl]) }} | \
{{ v.share(v.sentiment.previous_shares[lbl]) }} | {{ v.pts(v.sentiment.change_points[lbl]) }} |
{% endfor %}
{% endif %}
{% if v.voice %}

## {{ t('share_of_voice') }}

{{ v.voice.intro }}

{% if v.voice.mentions %}
| {{ t('subject') }} | {{ t('mentions') }} | {{ t('share') }} | {{ t('previous') }} | {{ t('change') }} | {{ t('share_change') }} | {{ t('positive') }} | {{ t('neutral') }} | {{ t('negative') }} | {{ t('reach') }} |
|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|
{% for x in v.voice.subjects %}
| {{ x.name | md }} ({{ x.kind_label }}) | {{ v.n(x.mentions) }} | {{ v.share(x.share) }} | {{ v.n(x.previous) }} | {{ v.pct(x.change) }} | {{ v.pts(x.share_change_points) }} | {{ v.n(x.positive) }} | {{ v.n(x.neutral) }} | {{ v.n(x.negative) }} | {{ v.n(x.reach) }} |
{% endfor %}
{% else %}
{{ t('voice_none') }}
{% endif %}
{% endif %}

## {{ t('topics') }}

{% if v.topics.top %}
| {{ t('topic') }} | {{ t('mentions') }} | {{ t('previous') }} | {{ t('change') }} |
|---|---:|---:|---:|
{% for x in v.topics.top %}
| {{ x.shown | md }} | {{ v.n(x.count) }} | {{ v.n(x.previous) }} | {{ v.pct(x.change) }} |
{% endfor %}
{% else %}
{{ t('no_topics_yet') }}
{% endif %}
{% for title, items, ex in v.topic_moves %}
{% if items %}

### {{ title }}

{% for x in items %}
- **{{ x.shown | md }}**: {{ v.n(x.count) }} ({{ t('previous') | lower }} {{ v.n(x.previous) }})
{% for c in x.examples %}
  - {{ ex }}: “{{ c.text | md }}” — {{ c.who | md }}, {{ c.when }}{% if c.url | url %} <{{ c.url | url }}>{% endif %}

{% endfor %}
{% endfor %}
{% endif %}
{% endfor %}

## {{ t('emergent') }}

{{ t('emergent_intro') }}

{% if v.terms %}
| {{ t('term') }} | {{ t('mentions') }} | {{ t('previous') }} |
|---|---:|---:|
{% for x in v.terms %}
| {{ x.term | md }} | {{ v.n(x.count) }} | {{ v.n(x.previous) }} |
{% endfor %}
{% else %}
{{ t('none') }}
{% endif %}

## {{ t('voices') }}

### {{ t('by_reach') }}

{% if v.authors.by_reach %}
| {{ t('author') }} | {{ t('platform') }} | {{ t('followers') }} | {{ t('mentions') }} |
|---|---|---:|---:|
{% for a in v.authors.by_reach %}
| {{ (a.handle or a.display_name or '?') | md }} | {{ a.platform }} | {{ v.n(a.followers) }} | {{ v.n(a.mentions) }} |
{% endfor %}
{% else %}
{{ t('none') }}
{% endif %}

### {{ t('loyal') }}

{{ t('loyal_intro', windows=v.authors.windows) }}

{% if v.authors.loyal %}
| {{ t('author') }} | {{ t('active_periods') }} | {{ t('mentions') }} | {{ t('positive') }} | {{ t('negative') }} |
|---|---:|---:|---:|---:|
{% for a in v.authors.loyal %}
| {{ (a.handle or a.display_name or '?') | md }}{% if a.worth_thanking %} ★{% endif %} | \
{{ a.windows_active }} | {{ v.n(a.mentions_total) }} | {{ v.n(a.positive) }} | {{ v.n(a.negative) }} |
{% endfor %}
{% else %}
{{ t('none') }}
{% endif %}

## {{ t('questions') }}

{{ v.questions_line }}

{% for q in v.oldest %}
- {{ q.waiting }} · {{ q.status }} · “{{ q.text | md }}” — {{ q.who | md }}{% if q.url | url %} <{{ q.url | url }}>{% endif %}

{% endfor %}

## {{ t('response') }}

{{ v.response_line }}
{% if v.sla_line %}

{{ v.sla_line }}
{% endif %}

## {{ t('throughput') }}

{{ v.throughput_line }}
{% for p in v.throughput.by_person %}
- {{ p.actor | md }}: {{ v.n(p.actions) }}
{% endfor %}

## {{ t('engaged') }}

{% for c in v.engaged %}
- {{ c.engagement_text }} · “{{ c.text | md }}” — {{ c.who | md }}, {{ c.when }}{% if c.url | url %} <{{ c.url | url }}>{% endif %}

{% else %}
{{ t('none') }}
{% endfor %}

## {{ t('alerts') }}

{% for line in v.alerts %}
- {{ line | md }}
{% else %}
{{ t('none') }}
{% endfor %}
{% if v.incidents %}

## {{ t('incidents') }}

{% for line in v.incidents %}
- {{ line | md }}
{% endfor %}
{% endif %}
{% endif %}
{% if v.notes %}

## {{ t('notes') }}

{% for note in v.notes %}
- {{ note }}
{% endfor %}
{% endif %}
"""

HTML_TEMPLATE = """\
{% set t = v.t %}
{% set cell = 'padding:4px 8px;border-bottom:1px solid #eceff3;font-size:14px;' %}
{% set num = cell ~ 'text-align:right;white-space:nowrap;' %}
{% set head = 'padding:4px 8px;border-bottom:2px solid #d5dbe1;font-size:12px;color:#5b6570;' %}
{% set h2 = 'font-size:18px;margin:28px 0 8px;color:#1d2a36;' %}
{% set h3 = 'font-size:15px;margin:18px 0 6px;color:#1d2a36;' %}
{% set para = 'font-size:14px;margin:6px 0;' %}
{% set small = 'font-size:13px;color:#5b6570;margin:6px 0;' %}
{% set quote = 'margin:4px 0 10px;padding:6px 10px;border-left:3px solid #c9d4df;' ~
               'color:#37424d;font-size:14px;' %}
{% macro th(label, right=false) %}
<th style="{{ head }}text-align:{{ 'right' if right else 'left' }};">{{ label }}</th>
{% endmacro %}
{% macro td(value) %}<td style="{{ cell }}">{{ value }}</td>{% endmacro %}
{% macro tn(value) %}<td style="{{ num }}">{{ value }}</td>{% endmacro %}
{% macro table() %}
<table role="presentation" width="100%" cellspacing="0" cellpadding="0">{{ caller() }}</table>
{% endmacro %}
{% macro card(c, extra='') %}
<div style="{{ quote }}">“{{ c.text }}”<br>
<span style="font-size:12px;color:#6b7682;">{{ extra }}{{ c.who }} · {{ c.platform }} · {{ c.when }}
{% if c.url | url %} · <a href="{{ c.url | url }}" style="color:#3b6ea5;">link</a>{% endif %}
</span></div>
{% endmacro %}
{% macro chart(name) %}
{% if name in images %}
<img src="{{ images[name] }}" width="600" alt="{{ t('chart_' ~ name) }}"
 style="display:block;width:100%;max-width:600px;height:auto;margin:8px 0;border:0;">
{% endif %}
{% endmacro %}
{% macro nothing() %}<p style="{{ para }}">{{ t('none') }}</p>{% endmacro %}
<!DOCTYPE html>
<html lang="{{ v.language }}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ v.title }}</title>
</head>
<body style="margin:0;padding:0;background:#f4f6f8;">
<table role="presentation" width="100%" cellspacing="0" cellpadding="0" style="background:#f4f6f8;">
<tr><td align="center" style="padding:16px;">
<table role="presentation" width="640" cellspacing="0" cellpadding="0"
 style="max-width:640px;width:100%;background:#ffffff;border-radius:6px;">
<tr><td style="padding:24px 20px;font-family:Helvetica,Arial,sans-serif;color:#1d2a36;">
<h1 style="font-size:22px;margin:0 0 4px;">{{ v.title }}</h1>
<p style="{{ small }}margin-bottom:16px;">
{{ v.dates }} · {{ v.timezone }} · {{ t('filters') }}: {{ v.filters }} · {{ v.generated }}</p>
<h2 style="{{ h2 }}">{{ t('glance') }}</h2>
<ul style="margin:0;padding-left:20px;font-size:15px;line-height:1.45;">
{% for line in v.headline %}
<li style="margin:0 0 6px;">{{ line }}</li>
{% endfor %}
</ul>
{% if not v.quiet %}
<h2 style="{{ h2 }}">{{ t('volume') }}</h2>
{{ chart('volume') }}
{% call table() %}
<tr>{{ th(t('source')) }}{{ th(t('platform')) }}{{ th(t('mentions'), true) }}
{{ th(t('previous'), true) }}{{ th(t('change'), true) }}</tr>
{% for s in v.volume.by_source %}
<tr>{{ td(s.source) }}{{ td(s.platform) }}{{ tn(v.n(s.count)) }}{{ tn(v.n(s.previous)) }}
{{ tn(v.pct(s.change)) }}</tr>
{% endfor %}
{% endcall %}
<p style="{{ small }}">{{ t('by_language') }}:
{% for s in v.volume.by_language %}
{{ s.language }} {{ v.n(s.count) }} ({{ v.pct(s.change) }}){% if not loop.last %} · {% endif %}
{% endfor %}</p>
<p style="{{ small }}">{{ t('trend') }}:
{% for w in v.trend %}
{{ w.label }} {{ v.n(w.count) }}{% if not loop.last %} · {% endif %}
{% endfor %}</p>
{% if v.sentiment.tagged %}
<h2 style="{{ h2 }}">{{ t('sentiment') }}</h2>
{{ chart('sentiment') }}
{% call table() %}
<tr>{{ th('') }}{{ th(t('mentions'), true) }}{{ th(t('share_now'), true) }}
{{ th(t('share_before'), true) }}{{ th(t('change'), true) }}</tr>
{% for lbl in ['positive', 'neutral', 'negative'] %}
<tr>{{ td(t(lbl)) }}{{ tn(v.n(v.sentiment.counts[lbl])) }}
{{ tn(v.share(v.sentiment.shares[lbl])) }}{{ tn(v.share(v.sentiment.previous_shares[lbl])) }}
{{ tn(v.pts(v.sentiment.change_points[lbl])) }}</tr>
{% endfor %}
{% endcall %}
{% endif %}
{% if v.voice %}
<h2 style="{{ h2 }}">{{ t('share_of_voice') }}</h2>
<p style="{{ small }}">{{ v.voice.intro }}</p>
{% if v.voice.mentions %}
{{ chart('voice') }}
{% call table() %}
<tr>{{ th(t('subject')) }}{{ th(t('mentions'), true) }}{{ th(t('share'), true) }}
{{ th(t('change'), true) }}{{ th(t('share_change'), true) }}{{ th(t('positive'), true) }}
{{ th(t('neutral'), true) }}{{ th(t('negative'), true) }}{{ th(t('reach'), true) }}</tr>
{% for x in v.voice.subjects %}
<tr><td style="{{ cell }}">{{ x.name }}<br><span style="font-size:12px;color:#6b7682;">\
{{ x.kind_label }}</span></td>{{ tn(v.n(x.mentions)) }}{{ tn(v.share(x.share)) }}
{{ tn(v.pct(x.change)) }}{{ tn(v.pts(x.share_change_points)) }}{{ tn(v.n(x.positive)) }}
{{ tn(v.n(x.neutral)) }}{{ tn(v.n(x.negative)) }}{{ tn(v.n(x.reach)) }}</tr>
{% endfor %}
{% endcall %}
{% else %}
<p style="{{ para }}">{{ t('voice_none') }}</p>
{% endif %}
{% endif %}
<h2 style="{{ h2 }}">{{ t('topics') }}</h2>
{% if v.topics.top %}
{{ chart('topics') }}
{% else %}
<p style="{{ para }}">{{ t('no_topics_yet') }}</p>
{% endif %}
{% for title, items, ex in v.topic_moves %}
{% if items %}
<h3 style="{{ h3 }}">{{ title }}</h3>
{% for x in items %}
<p style="{{ para }}"><strong>{{ x.shown }}</strong>: {{ v.n(x.count) }}
({{ t('previous') | lower }} {{ v.n(x.previous) }})</p>
{% for c in x.examples %}{{ card(c) }}{% endfor %}
{% endfor %}
{% endif %}
{% endfor %}
<h2 style="{{ h2 }}">{{ t('emergent') }}</h2>
<p style="{{ small }}">{{ t('emergent_intro') }}</p>
{% if v.terms %}
{% call table() %}
<tr>{{ th(t('term')) }}{{ th(t('mentions'), true) }}{{ th(t('previous'), true) }}</tr>
{% for x in v.terms %}
<tr>{{ td(x.term) }}{{ tn(v.n(x.count)) }}{{ tn(v.n(x.previous)) }}</tr>
{% endfor %}
{% endcall %}
{% else %}{{ nothing() }}{% endif %}
<h2 style="{{ h2 }}">{{ t('voices') }}</h2>
<h3 style="{{ h3 }}">{{ t('by_reach') }}</h3>
{% if v.authors.by_reach %}
{% call table() %}
<tr>{{ th(t('author')) }}{{ th(t('platform')) }}{{ th(t('followers'), true) }}
{{ th(t('mentions'), true) }}</tr>
{% for a in v.authors.by_reach %}
<tr>{{ td(a.handle or a.display_name or '?') }}{{ td(a.platform) }}{{ tn(v.n(a.followers)) }}
{{ tn(v.n(a.mentions)) }}</tr>
{% endfor %}
{% endcall %}
{% else %}{{ nothing() }}{% endif %}
<h3 style="{{ h3 }}">{{ t('loyal') }}</h3>
<p style="{{ small }}">{{ t('loyal_intro', windows=v.authors.windows) }}</p>
{% if v.authors.loyal %}
{% call table() %}
<tr>{{ th(t('author')) }}{{ th(t('active_periods'), true) }}{{ th(t('mentions'), true) }}
{{ th(t('positive'), true) }}{{ th(t('negative'), true) }}</tr>
{% for a in v.authors.loyal %}
<tr>{{ td((a.handle or a.display_name or '?') ~ (' ★' if a.worth_thanking else '')) }}
{{ tn(a.windows_active) }}{{ tn(v.n(a.mentions_total)) }}{{ tn(v.n(a.positive)) }}
{{ tn(v.n(a.negative)) }}</tr>
{% endfor %}
{% endcall %}
{% else %}{{ nothing() }}{% endif %}
<h2 style="{{ h2 }}">{{ t('questions') }}</h2>
<p style="{{ para }}">{{ v.questions_line }}</p>
{% for q in v.oldest %}{{ card(q, q.waiting ~ ' · ' ~ q.status ~ ' · ') }}{% endfor %}
<h2 style="{{ h2 }}">{{ t('response') }}</h2>
<p style="{{ para }}">{{ v.response_line }}</p>
{% if v.sla_line %}<p style="{{ para }}">{{ v.sla_line }}</p>{% endif %}
<h2 style="{{ h2 }}">{{ t('throughput') }}</h2>
<p style="{{ para }}">{{ v.throughput_line }}</p>
{% if v.throughput.by_person %}
<p style="{{ small }}">
{% for p in v.throughput.by_person %}
{{ p.actor }} {{ v.n(p.actions) }}{% if not loop.last %} · {% endif %}
{% endfor %}</p>
{% endif %}
<h2 style="{{ h2 }}">{{ t('engaged') }}</h2>
{% for c in v.engaged %}{{ card(c, c.engagement_text ~ ' · ') }}{% else %}{{ nothing() }}{% endfor %}
<h2 style="{{ h2 }}">{{ t('alerts') }}</h2>
{% for line in v.alerts %}<p style="{{ para }}">{{ line }}</p>{% else %}{{ nothing() }}{% endfor %}
{% if v.incidents %}<h2 style="{{ h2 }}">{{ t('incidents') }}</h2>
{% for line in v.incidents %}<p style="{{ para }}">{{ line }}</p>{% endfor %}{% endif %}
{% endif %}
{% if v.notes %}
<h2 style="{{ h2 }}">{{ t('notes') }}</h2>
<ul style="margin:0;padding-left:20px;font-size:13px;color:#5b6570;">
{% for note in v.notes %}<li>{{ note }}</li>{% endfor %}
</ul>
{% endif %}
</td></tr>
</table>
</td></tr>
</table>
</body>
</html>
"""
