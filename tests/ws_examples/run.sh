#!/bin/sh
# Runs the two example programs of nghttpw_ws(7) together on 127.0.0.1,
# and checks what they print.
# usage: run.sh SERVER CLIENT [PORT]
#   SERVER, CLIENT  echo_server.c and echo_client.c, built (the test suite
#                   builds them with the library's own flags)
#   PORT            the port to use (default: one picked from the process id)
# Exit status 0 when all went well.
set -eu
server=${1:?usage: run.sh SERVER CLIENT [PORT]}
client=${2:?usage: run.sh SERVER CLIENT [PORT]}
port=${3:-$((10000 + $$ % 20000))}
tmp=$(mktemp -d)
server_pid=
cleanup() {
	if [ -n "$server_pid" ]; then
		kill "$server_pid" 2>/dev/null || true
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT

# The server serves one client, then exits.  The port is one the caller
# gives, or one below the kernel's ephemeral range; a port in use (by
# another test, say) is given up for the next, five times at most.
start_server() {
	"$server" "$port" 1 > "$tmp/server.out" 2>&1 &
	server_pid=$!
	i=0
	until grep -q '^echo_server: listening' "$tmp/server.out"; do
		i=$((i + 1))
		if [ $i -gt 50 ] || ! kill -0 "$server_pid" 2>/dev/null; then
			wait "$server_pid" 2>/dev/null || true
			server_pid=
			return 1
		fi
		sleep 0.1
	done
}
tries=0
until start_server; do
	tries=$((tries + 1))
	if [ $tries -ge 5 ] || ! grep -q 'Address in use' "$tmp/server.out"; then
		cat "$tmp/server.out" >&2
		echo "run.sh: the server did not start" >&2
		exit 1
	fi
	port=$((port + 1))
done

status=0
"$client" "$port" > "$tmp/client.out" 2>&1 || status=1
wait "$server_pid" || status=1
server_pid=
cat "$tmp/server.out" "$tmp/client.out"

cat > "$tmp/server.want" <<WANT
echo_server: listening on ws://127.0.0.1:$port/echo
echo_server: client connected
echo_server: text, 17 bytes: Hello, WebSocket!
echo_server: client gone: Object closed, close code 1000
WANT
cat > "$tmp/client.want" <<WANT
echo_client: sent 17 bytes: Hello, WebSocket!
echo_client: got 17 bytes (text): Hello, WebSocket!
echo_client: closed cleanly
WANT
cmp -s "$tmp/server.out" "$tmp/server.want" || { echo "run.sh: unexpected server output" >&2; status=1; }
cmp -s "$tmp/client.out" "$tmp/client.want" || { echo "run.sh: unexpected client output" >&2; status=1; }
[ $status -eq 0 ] && echo "run.sh: ok"
exit $status
