//! Client tests: a scripted server, virtual time.
