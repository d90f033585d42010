# Starting brokers on loopback without racing other processes for ports; sourced by scripts/test,
# scripts/bench-compare and scripts/bench-idle-memory.
#
# Roost is started on port 0 and says in its log which ports it got. Mosquitto 2.0 cannot pick its own ports
# (`listener 0` means a Unix socket there), so ports found free are handed to it, and when one was taken before
# Mosquitto could bind it (it logs "Address already in use" and exits) it is started again with fresh ones.

# roost_ports LOG PID [TIMEOUT_SECONDS]: waits until the roost with PID, logging to LOG, says where it listens;
# prints "MQTT_PORT HTTP_PORT". Fails, showing the log, if it exits first or takes longer than TIMEOUT (30 s).
roost_ports() {
  local log=$1 pid=$2 limit=${3:-30} mqtt http
  local deadline=$((SECONDS + limit))
  while (( SECONDS < deadline )); do
    mqtt=$(sed -n 's/.*MQTT listening on [0-9.]*:\([0-9][0-9]*\).*/\1/p' "$log" | head -n 1)
    http=$(sed -n 's|.*dashboard at http://[0-9.]*:\([0-9][0-9]*\)/.*|\1|p' "$log" | head -n 1)
    if [ -n "$mqtt" ] && [ -n "$http" ]; then
      echo "$mqtt $http"
      return 0
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "roost exited before it listened; its log:" >&2
      cat "$log" >&2
      return 1
    fi
    sleep 0.1 # polling a log file for a line, bounded by the deadline
  done
  echo "roost did not say where it listens within $limit s; its log:" >&2
  cat "$log" >&2
  return 1
}

# free_ports N: N distinct loopback ports free right now, chosen while all are held so none repeats. Only for
# programs that cannot pick their own; see start_mosquitto.
free_ports() {
  python3 -c "import socket; s=[socket.socket() for _ in range($1)]; [x.bind(('127.0.0.1',0)) for x in s]; print(' '.join(str(x.getsockname()[1]) for x in s))"
}

# start_mosquitto CONF LOG [EXTRA_CONFIG]: starts Mosquitto with a TCP and a WebSocket listener on loopback
# (allow_anonymous true, persistence false, then EXTRA_CONFIG lines), logging to LOG; sets pid, mqtt_port and
# ws_port. Up to 5 attempts with fresh ports when one was taken meanwhile.
start_mosquitto() {
  local conf=$1 log=$2 extra=${3:-} attempt deadline
  for attempt in 1 2 3 4 5; do
    read -r mqtt_port ws_port <<<"$(free_ports 2)"
    printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\nlistener %s 127.0.0.1\nprotocol websockets\n%s' \
      "$mqtt_port" "$ws_port" "$extra" > "$conf"
    /usr/sbin/mosquitto -c "$conf" > "$log" 2>&1 &
    pid=$!
    # "... running" once every listener is open; an exit when a port was taken.
    deadline=$((SECONDS + 10))
    while kill -0 "$pid" 2>/dev/null && ! grep -q ' running$' "$log" && (( SECONDS < deadline )); do
      sleep 0.1 # polling a log file for a line, bounded by the deadline
    done
    if grep -q ' running$' "$log" && kill -0 "$pid" 2>/dev/null; then
      return 0
    fi
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    echo "mosquitto attempt $attempt did not start: $(tail -n 1 "$log")" >&2
  done
  pid=
  return 1
}
