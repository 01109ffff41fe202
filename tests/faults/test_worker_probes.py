"""The broker goes away under a running consumer: its /readyz turns 503 naming Kafka while
/livez stays 200 (a restart would not bring the broker back), and it is ready again once the
broker is back. On a broker of the test's own."""
from __future__ import annotations

from tanhui_shared.messaging.kafka import ensure_topics

from fault_support import private_kafka, report, wait_for
from metrics_support import Worker, value


def test_a_consumer_is_not_ready_while_its_broker_is_gone(tmp_path, migrated_database):
    bootstrap, kafka = private_kafka(tmp_path / "var")
    consumer = None
    try:
        ensure_topics(bootstrap, "probes")
        consumer = Worker("credits", "consumer", tmp_path, TANHUI_KAFKA_BOOTSTRAP=bootstrap,
                          TANHUI_DATABASE_URL=migrated_database("credits"),
                          TANHUI_TOPIC_NAMESPACE="probes", TANHUI_METRICS_SAMPLE_S="0.5")
        wait_for(consumer.answering, 60, "the consumer's metrics port")
        wait_for(lambda: consumer.probe("/readyz")[0] == 200, 60, "ready with its broker")
        kafka.stop()
        gone = wait_for(lambda: consumer.probe("/readyz")[1]["kafka"].startswith("failed"), 90,
                        "/readyz names Kafka")
        status, body = consumer.probe("/readyz")
        assert status == 503 and body["database"] == "ok", body
        assert consumer.probe("/livez")[0] == 200
        scraped = consumer.scrape()
        assert value(scraped, "tanhui_consumer_failures_total", kind="kafka") >= 1
        assert value(scraped, "tanhui_worker_dependency_up", dependency="kafka") == 0
        kafka.start()
        back = wait_for(lambda: consumer.probe("/readyz")[0] == 200, 120, "ready again")
        report("worker-probes", not_ready_after_s=gone, ready_again_after_s=back,
               readyz_while_gone=f"{status} {body}")
    finally:
        if consumer is not None:
            consumer.stop()
        kafka.ensure_stopped()
