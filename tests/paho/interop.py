"""Eclipse paho-mqtt (PyPI) against a running broker: the Python peer of tests/tests/paho.rs.

Usage: interop.py HOST PORT TRANSPORT VERSION PREFIX
  TRANSPORT  tcp | websockets (path /mqtt)
  VERSION    3.1.1 | 5
  PREFIX     a topic prefix no other test uses

Runs every scenario below in order and exits 0 when the broker behaved, or prints the first broken expectation
and exits 1. Every wait has a deadline, so a broker that stays silent fails the run instead of hanging it.
"""

import queue
import sys
import time

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

WAIT = 5.0


class Broken(Exception):
    """An expectation the broker did not meet."""


def expect(condition, what):
    if not condition:
        raise Broken(what)


class Peer:
    """One paho client with its events in queues, driven by paho's network thread."""

    def __init__(self, args, client_id, clean=True, will=None, session_expiry=None, topic_alias_maximum=None):
        self.args = args
        self.v5 = args.version == "5"
        protocol = mqtt.MQTTv5 if self.v5 else mqtt.MQTTv311
        kwargs = {"callback_api_version": CallbackAPIVersion.VERSION2, "client_id": client_id,
                  "protocol": protocol, "transport": args.transport}
        if not self.v5:
            kwargs["clean_session"] = clean
        self.client = mqtt.Client(**kwargs)
        if args.transport == "websockets":
            self.client.ws_set_options(path="/mqtt")
        self.clean = clean
        self.session_expiry = session_expiry
        self.topic_alias_maximum = topic_alias_maximum
        self.connacks = queue.Queue()
        self.messages = queue.Queue()
        self.subacks = queue.Queue()
        self.unsubacks = queue.Queue()
        self.published = queue.Queue()
        self.client.on_connect = lambda c, u, flags, reason, props: self.connacks.put((flags, reason))
        self.client.on_message = lambda c, u, message: self.messages.put(message)
        self.client.on_subscribe = lambda c, u, mid, reasons, props: self.subacks.put((mid, reasons))
        self.client.on_unsubscribe = lambda c, u, mid, reasons, props: self.unsubacks.put(mid)
        self.client.on_publish = lambda c, u, mid, reason, props: self.published.put((mid, reason))
        if will:
            topic, payload, qos = will
            self.client.will_set(topic, payload, qos=qos)

    def connect(self):
        kwargs = {}
        if self.v5:
            kwargs["clean_start"] = self.clean
            props = Properties(PacketTypes.CONNECT)
            if self.session_expiry is not None:
                props.SessionExpiryInterval = self.session_expiry
            if self.topic_alias_maximum is not None:
                props.TopicAliasMaximum = self.topic_alias_maximum
            if not props.isEmpty():
                kwargs["properties"] = props
        self.client.connect(self.args.host, self.args.port, keepalive=30, **kwargs)
        self.client.loop_start()
        flags, reason = take(self.connacks, "CONNACK")
        expect(not reason.is_failure, f"CONNACK refused: {reason}")
        return flags.session_present

    def subscribe(self, topic, qos):
        _, mid = self.client.subscribe(topic, qos)
        got_mid, reasons = take(self.subacks, f"SUBACK for {topic}")
        expect(got_mid == mid, f"SUBACK for packet {got_mid}, expected {mid}")
        expect([r.value for r in reasons] == [qos], f"SUBACK for {topic}: {reasons}, expected granted QoS {qos}")

    def unsubscribe(self, topic):
        _, mid = self.client.unsubscribe(topic)
        expect(take(self.unsubacks, "UNSUBACK") == mid, "UNSUBACK for another packet")

    def publish(self, topic, payload, qos=0, retain=False, properties=None):
        info = self.client.publish(topic, payload, qos=qos, retain=retain, properties=properties)
        expect(info.rc == mqtt.MQTT_ERR_SUCCESS, f"publish to {topic} failed locally: {info.rc}")
        # on_publish fires when a QoS 0 message is written, and on PUBACK (QoS 1) or PUBCOMP (QoS 2): for those the
        # broker has acknowledged it. Messages go one at a time, so the next one reported is this one.
        what = "QoS 0 PUBLISH written" if qos == 0 else f"acknowledgement of QoS {qos} PUBLISH"
        mid, reason = take(self.published, what)
        expect(mid == info.mid, f"{what}: reported for another packet id")
        return reason

    def receive(self, what):
        return take(self.messages, what)

    def nothing_more(self, seconds=0.3):
        try:
            extra = self.messages.get(timeout=seconds)
        except queue.Empty:
            return
        raise Broken(f"unexpected message on {extra.topic}: {extra.payload!r}")

    def disconnect(self):
        self.client.disconnect()
        self.client.loop_stop()

    def vanish(self):
        """Ends the connection without DISCONNECT, as a device losing power would."""
        self.client.loop_stop()
        sock = self.client.socket()
        if sock is not None:
            sock.close()


def take(q, what):
    try:
        return q.get(timeout=WAIT)
    except queue.Empty:
        raise Broken(f"no {what} within {WAIT} s") from None


def qos_levels_and_properties(args, p):
    """PUBLISH at QoS 0, 1 and 2 reaches a subscriber at the QoS asked for, in order, with MQTT 5 properties
    forwarded unaltered and user properties in order ([MQTT-3.3.2-17], [MQTT-3.3.2-18])."""
    sub = Peer(args, f"{p}-sub")
    sub.connect()
    sub.subscribe(f"{p}/qos/#", 2)
    pub = Peer(args, f"{p}-pub")
    pub.connect()
    for qos in (0, 1, 2):
        props = None
        if pub.v5:
            props = Properties(PacketTypes.PUBLISH)
            props.ContentType = "application/json"
            props.ResponseTopic = f"{p}/reply"
            props.CorrelationData = b"\x00\x01corr"
            props.UserProperty = [("b", "2"), ("a", "1"), ("b", "3")]
            props.PayloadFormatIndicator = 1
        pub.publish(f"{p}/qos/{qos}", f'{{"qos": {qos}}}', qos=qos, properties=props)
    for qos in (0, 1, 2):
        m = sub.receive(f"QoS {qos} message")
        expect(m.topic == f"{p}/qos/{qos}", f"message {qos} out of order: {m.topic}")
        expect(m.qos == qos, f"QoS {qos} message arrived at QoS {m.qos}")
        expect(m.payload == f'{{"qos": {qos}}}'.encode(), f"payload changed: {m.payload!r}")
        expect(not m.retain, "a live message arrived with RETAIN set")
        if sub.v5:
            got = m.properties
            expect(got.ContentType == "application/json", f"content type: {getattr(got, 'ContentType', None)}")
            expect(got.ResponseTopic == f"{p}/reply", "response topic not forwarded")
            expect(got.CorrelationData == b"\x00\x01corr", "correlation data not forwarded")
            expect(got.UserProperty == [("b", "2"), ("a", "1"), ("b", "3")], f"user properties: {got.UserProperty}")
            expect(got.PayloadFormatIndicator == 1, "payload format indicator not forwarded")
    sub.nothing_more()
    sub.unsubscribe(f"{p}/qos/#")
    pub.publish(f"{p}/qos/0", "after unsubscribe", qos=1)
    sub.nothing_more()
    sub.disconnect()
    pub.disconnect()


def retained(args, p):
    """A retained message goes to later subscribers with RETAIN set, is replaced, and an empty payload deletes it
    ([MQTT-3.3.1-5], [MQTT-3.3.1-6], [MQTT-3.3.1-10], [MQTT-3.3.1-11])."""
    pub = Peer(args, f"{p}-rpub")
    pub.connect()
    pub.publish(f"{p}/retained", "first", qos=1, retain=True)
    pub.publish(f"{p}/retained", "second", qos=1, retain=True)
    sub = Peer(args, f"{p}-rsub")
    sub.connect()
    sub.subscribe(f"{p}/retained", 1)
    m = sub.receive("retained message")
    expect((m.payload, m.retain) == (b"second", True), f"retained: {m.payload!r} retain={m.retain}")
    sub.nothing_more()
    sub.disconnect()
    pub.publish(f"{p}/retained", "", qos=1, retain=True)
    late = Peer(args, f"{p}-rlate")
    late.connect()
    late.subscribe(f"{p}/retained", 1)
    late.nothing_more(0.5)
    late.disconnect()
    pub.disconnect()


def will(args, p):
    """A connection that ends without DISCONNECT publishes its will; a normal DISCONNECT discards it
    ([MQTT-3.1.2-8], [MQTT-3.1.2-10])."""
    sub = Peer(args, f"{p}-wsub")
    sub.connect()
    sub.subscribe(f"{p}/will/#", 1)
    polite = Peer(args, f"{p}-polite", will=(f"{p}/will/polite", "gone", 1))
    polite.connect()
    polite.disconnect()
    sub.nothing_more(0.5)
    device = Peer(args, f"{p}-device", will=(f"{p}/will/device", "offline", 1))
    device.connect()
    device.vanish()
    m = sub.receive("will message")
    expect((m.topic, m.payload) == (f"{p}/will/device", b"offline"), f"will: {m.topic} {m.payload!r}")
    sub.disconnect()


def persistent_session(args, p):
    """A persistent session keeps its subscription and queues QoS 1 messages while offline; session present says
    so on return ([MQTT-3.1.2-4], [MQTT-3.2.2-2])."""
    first = Peer(args, f"{p}-persist", clean=False, session_expiry=300)
    expect(not first.connect(), "a fresh session was reported present")
    first.subscribe(f"{p}/offline", 1)
    first.disconnect()
    pub = Peer(args, f"{p}-opub")
    pub.connect()
    pub.publish(f"{p}/offline", "queued", qos=1)
    pub.disconnect()
    again = Peer(args, f"{p}-persist", clean=False, session_expiry=300)
    expect(again.connect(), "session present not set for a persistent session")
    m = again.receive("message queued while offline")
    expect((m.payload, m.qos) == (b"queued", 1), f"queued message: {m.payload!r} QoS {m.qos}")
    again.disconnect()
    # Clean up the session so reruns start fresh.
    gone = Peer(args, f"{p}-persist", clean=True)
    gone.connect()
    gone.disconnect()


def dollar_topics(args, p):
    """`$` topics other than `$SYS` are the clients' (cloud brokers use `$aws/...`): a subscription naming one gets
    it, `#` does not ([MQTT-4.7.2-1]); `$SYS` stays the broker's own (MQTT 5: PUBACK 0x90)."""
    topic = "$aws/things/x/shadow/update"
    exact = Peer(args, f"{p}-exact")
    exact.connect()
    exact.subscribe(topic, 1)
    wild = Peer(args, f"{p}-wild")
    wild.connect()
    wild.subscribe("#", 1)
    pub = Peer(args, f"{p}-pub")
    pub.connect()
    reason = pub.publish(topic, '{"state":{}}', qos=1)
    if pub.v5:
        expect(not reason.is_failure, f"PUBACK for {topic}: {reason}")
    m = exact.receive(f"message on {topic}")
    expect((m.topic, m.payload) == (topic, b'{"state":{}}'), f"got {m.topic} {m.payload!r}")
    reason = pub.publish("$SYS/x", "x", qos=1)
    if pub.v5:
        expect(reason.value == 0x90, f"PUBACK for $SYS/x: {reason}, expected 0x90 Topic Name invalid")
    wild.nothing_more()
    exact.nothing_more()
    for peer in (exact, wild, pub):
        peer.disconnect()


def topic_aliases(args, p):
    """A subscriber allowing topic aliases (MQTT 5 Topic Alias Maximum) gets each topic once with an alias, then
    the alias alone with an empty topic, never an alias above its maximum ([MQTT-3.3.2-11]). paho-mqtt 2.2 hands
    the PUBLISH over as received (it does not resolve aliases), so this resolves them as a client must. Without a
    maximum (and in 3.1.1) topics arrive plain ([MQTT-3.1.2-27])."""
    topics = [f"{p}/homeassistant/sensor/room_{i}/state" for i in range(3)]
    sub = Peer(args, f"{p}-sub", topic_alias_maximum=2 if args.version == "5" else None)
    sub.connect()
    sub.subscribe(f"{p}/#", 1)
    plain = Peer(args, f"{p}-plain")
    plain.connect()
    plain.subscribe(f"{p}/#", 1)
    pub = Peer(args, f"{p}-pub")
    pub.connect()
    sent = [topics[i] for i in (0, 1, 0, 2, 0, 1, 2, 2)]
    for n, topic in enumerate(sent):
        pub.publish(topic, str(n), qos=1)
    aliases = {}
    by_alias = 0
    for n, topic in enumerate(sent):
        m = sub.receive(f"message {n}")
        alias = getattr(m.properties, "TopicAlias", None) if sub.v5 else None
        got = m.topic
        if alias is not None:
            expect(1 <= alias <= 2, f"topic alias {alias} above our maximum of 2")
            if got:
                aliases[alias] = got
            else:
                expect(alias in aliases, f"alias {alias} used before it was set up")
                got = aliases[alias]
                by_alias += 1
        else:
            expect(not sub.v5, f"message {n} on {got} without a topic alias")
        expect((got, m.payload) == (topic, str(n).encode()), f"message {n}: {got} {m.payload!r}, expected {topic}")
        q = plain.receive(f"plain message {n}")
        expect(q.topic == topic, f"without aliases: {q.topic!r}, expected {topic}")
        if plain.v5:
            expect(getattr(q.properties, "TopicAlias", None) is None, "an alias for a client that allowed none")
    if sub.v5:
        expect(by_alias == 3, f"{by_alias} messages sent by alias alone, expected 3")
    for peer in (sub, plain, pub):
        peer.disconnect()


SCENARIOS = [qos_levels_and_properties, retained, will, persistent_session, dollar_topics, topic_aliases]


def main():
    host, port, transport, version, prefix = sys.argv[1:6]

    class Args:
        pass

    args = Args()
    args.host, args.port, args.transport, args.version = host, int(port), transport, version
    for scenario in SCENARIOS:
        started = time.monotonic()
        try:
            scenario(args, f"{prefix}/{scenario.__name__}")
        except Broken as broken:
            print(f"{scenario.__name__}: {broken}", file=sys.stderr)
            sys.exit(1)
        print(f"{scenario.__name__}: ok ({time.monotonic() - started:.2f} s)")


if __name__ == "__main__":
    main()
