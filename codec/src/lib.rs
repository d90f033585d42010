//! MQTT 3.1, 3.1.1 and 5.0 wire format and client protocol state. No I/O, no clock.
