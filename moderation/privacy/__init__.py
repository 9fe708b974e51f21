"""Personal data's lifecycle: erasure and access per person, retention per data class, the
audit chain's verification. Above the outbox: erasure cancels replies still on their way."""
