from devstack.broker import bootstrap_port


def test_port_comes_from_first_bootstrap_server() -> None:
    assert bootstrap_port("localhost:19092,other:9093") == 19092


def test_missing_port_falls_back_to_kafka_default() -> None:
    assert bootstrap_port("localhost") == 9092
