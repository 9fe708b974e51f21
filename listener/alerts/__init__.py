"""Spike alerts: an hourly check of volume and negative share per topic and source."""

from listener.alerts.detect import Rule, Spike, detect_spikes
from listener.alerts.notify import alert_payload, check_spikes

__all__ = ["Rule", "Spike", "alert_payload", "check_spikes", "detect_spikes"]
