"""The one base exception of the streamapp package; CLIs print these as one line."""


class WordstreamError(Exception):
    """Something the user can fix; the message says what happened and how to fix it."""


class ConfigError(WordstreamError):
    """An environment variable holds a value that cannot be used."""


class BrokerUnavailable(WordstreamError):
    """The Kafka bootstrap servers did not answer."""
