// ws_echo_node: node's `ws` peer of tools/bench/ws.  Every message is sent
// back with its type.  Node runs JavaScript on one thread, so this peer
// is measured in the 1-thread rows only.
//
//   node ws_echo_node.js PORT [deflate]
//
// `ws` is the version pinned by tools/bench/ws-peers/package-lock.json,
// installed by tools/bench/ws into build/bench/ws-peers (NODE_PATH).
// deflate: perMessageDeflate on with ws's defaults (messages of 1 KiB and
// more compressed, context takeover both ways).  Prints "ready".
'use strict';
const { WebSocketServer } = require('ws');

const port = Number(process.argv[2]);
const deflate = process.argv[3] === 'deflate';
const wss = new WebSocketServer({
	host: '127.0.0.1',
	port,
	perMessageDeflate: deflate,
	maxPayload: 4 << 20, // messages of up to 4 MiB, as for every peer
	clientTracking: false,
});
wss.on('connection', (ws) => {
	ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
	ws.on('error', () => {});
});
wss.on('listening', () => console.log('ready'));
