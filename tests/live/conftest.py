"""Live tests run against the real local Apache Kafka broker (``tools/broker/``).

Their ``kafka_broker`` fixture lives in ``tests/conftest.py`` (the reliability suite
uses it too): it starts the broker, or reuses one that is already up, and FAILS the tests
that use it, with the tail of the broker log, if it does not come up. Nothing is skipped.
"""
