'use strict';
// A WebSocket peer built on the `ws` package, independent of nghttpw, for
// the C tests to run against.  py_peer.py implements the same command
// line and the same behaviour with Python's websockets, so a test can use
// either; README in this directory is the contract.
//
//   node ws_peer.js server [--port N] [--path /p] [--protocols a,b] [--timeout S]
//                          [--deflate JSON]
//   node ws_peer.js client URL [--protocol p] [--big N] [--deflate JSON]

const crypto = require('crypto');
const http = require('http');
const { WebSocket, WebSocketServer } = require('ws');

const MIB = 1024 * 1024;
const MAX_MESSAGE = 64 * MIB; // the server's message size limit
const MAX_GENERATED = 1024 * MIB; // bound on what cmd:send / cmd:frag make
const SERVER_CLOSE_TIMEOUT_MS = 10000; // as close_timeout in py_peer.py
const CLIENT_CLOSE_TIMEOUT_MS = 4000; // so the close step ends within its 10 s

// One line on stdout.  Writes to a pipe are synchronous in node on Linux,
// so the line is out when this returns (the C test reads it at once).
function say(line) {
  process.stdout.write(line + '\n');
}
// A test that stops reading our stdout must not make us crash.
process.stdout.on('error', () => {});

function usage(msg) {
  if (msg) process.stderr.write(`ws_peer: ${msg}\n`);
  process.stderr.write(
    'usage: node ws_peer.js server [--port N] [--path /p] [--protocols a,b] [--timeout S]\n' +
      '                              [--deflate JSON]\n' +
      '       node ws_peer.js client URL [--protocol p] [--big N] [--deflate JSON]\n'
  );
  process.exit(2);
}

// "--name value" options; `known` maps each name to a parser.
function parseOptions(args, known) {
  const opts = {};
  for (let i = 0; i < args.length; i += 2) {
    const name = args[i];
    if (!(name in known)) usage(`unknown option ${name}`);
    if (i + 1 >= args.length) usage(`${name} needs a value`);
    opts[name.slice(2)] = known[name](args[i + 1], name);
  }
  return opts;
}
function nonNegInt(s, name) {
  if (!/^[0-9]+$/.test(s)) usage(`${name}: not a number: ${s}`);
  return Number(s);
}
const str = (s) => s;
// --deflate: ws's perMessageDeflate options, as a JSON object (README).
// threshold defaults to 0 here, so that every message is compressed.
function deflateOptions(s, name) {
  let v;
  try {
    v = JSON.parse(s);
  } catch (err) {
    usage(`${name}: not JSON: ${err.message}`);
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v))
    usage(`${name}: not a JSON object: ${s}`);
  return { threshold: 0, ...v };
}

// Byte i of every generated binary message: (i*7+3) & 0xff.
function pattern(n) {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = (i * 7 + 3) & 0xff;
  return b;
}

// ---------------------------------------------------------------- server

function runServer(args) {
  const o = parseOptions(args, {
    '--port': nonNegInt,
    '--path': str,
    '--protocols': str,
    '--timeout': nonNegInt,
    '--deflate': deflateOptions,
  });
  const port = o.port ?? 0;
  const timeout = o.timeout ?? 60;
  const protocols = o.protocols ? o.protocols.split(',') : [];

  // Exit at once, without close handshakes: a test that is done with us
  // must not wait, and py_peer.py does the same.
  process.on('SIGTERM', () => process.exit(0));
  process.on('SIGINT', () => process.exit(0));
  setTimeout(() => {
    process.stderr.write(`ws_peer: server timeout (${timeout} s), exiting\n`);
    process.exit(0);
  }, timeout * 1000);

  // Only the path is compared, not the query string.
  const pathOk = (req) =>
    !o.path || new URL(req.url, 'http://x').pathname === o.path;

  const wss = new WebSocketServer({
    noServer: true,
    clientTracking: false,
    // Frames go out uncompressed unless --deflate says otherwise.
    perMessageDeflate: o.deflate ?? false,
    maxPayload: MAX_MESSAGE,
    closeTimeout: SERVER_CLOSE_TIMEOUT_MS,
    // The first protocol of OUR list that the client offered (false: none).
    handleProtocols: (offered) => protocols.find((p) => offered.has(p)) ?? false,
  });

  // Our own HTTP server, so that a wrong path gets 404 (as py_peer.py's)
  // rather than ws's 400, and a plain request 426.
  const server = http.createServer((req, res) => {
    res.writeHead(pathOk(req) ? 426 : 404, {
      'Content-Type': 'text/plain',
      Connection: 'close',
    });
    res.end(pathOk(req) ? 'WebSocket only\n' : 'not found\n');
  });
  // The Sec-WebSocket-Extensions of our answer, for cmd:info.
  wss.on('headers', (headers, req) => {
    const h = headers.find((l) => /^sec-websocket-extensions:/i.test(l));
    req.answeredExtensions = h ? h.slice(h.indexOf(':') + 1).trim() : null;
  });
  server.on('upgrade', (req, socket, head) => {
    if (!pathOk(req)) {
      socket.on('error', () => {});
      socket.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => serveConnection(ws, req));
  });
  server.listen(port, '127.0.0.1', () => say(`PORT ${server.address().port}`));
}

function serveConnection(ws, req) {
  const pings = new Set(); // payloads of our pings that await their pong

  ws.on('error', (err) => process.stderr.write(`ws_peer: ${err.message}\n`));
  ws.on('close', (code, reason) => {
    // code: the client's close code, 1005 if its close frame had none,
    // 1006 if it sent no close frame.
    const r = reason.toString('utf8');
    say(r ? `CLOSE ${code} ${r}` : `CLOSE ${code}`);
  });
  ws.on('pong', (data) => {
    const p = data.toString('utf8');
    if (pings.delete(p)) say(p ? `PONG ${p}` : 'PONG');
  });
  ws.on('message', (data, isBinary) => {
    const text = isBinary ? null : data.toString('utf8');
    if (text === null || !text.startsWith('cmd:')) {
      ws.send(data, { binary: isBinary }); // the echo, same type
      return;
    }
    try {
      command(ws, req, pings, text.slice(4));
    } catch (err) {
      ws.send(`error: ${err.message}`);
    }
  });
}

// One command, the text after "cmd:".  Throws on a bad one; the caller
// answers "error: ..." as a text message.
function command(ws, req, pings, line) {
  const sp = line.indexOf(' ');
  const name = sp < 0 ? line : line.slice(0, sp);
  const rest = sp < 0 ? '' : line.slice(sp + 1);
  const ints = (n) => {
    const a = rest.split(' ');
    if (a.length !== n || !a.every((s) => /^[0-9]+$/.test(s)))
      throw new Error(`cmd:${name} wants ${n} number(s)`);
    return a.map(Number);
  };

  switch (name) {
    case 'close': {
      if (rest === '') {
        ws.close(); // a close frame without a status code
        return;
      }
      const csp = rest.indexOf(' ');
      const codeStr = csp < 0 ? rest : rest.slice(0, csp);
      const reason = csp < 0 ? '' : rest.slice(csp + 1);
      const code = Number(codeStr);
      // Checked here so both peers refuse the same codes and reasons.
      if (!/^[0-9]+$/.test(codeStr) || !validCloseCode(code))
        throw new Error(`cmd:close: invalid close code ${codeStr}`);
      if (Buffer.byteLength(reason) > 123)
        throw new Error('cmd:close: reason longer than 123 bytes');
      ws.close(code, reason);
      return;
    }
    case 'ping':
      if (Buffer.byteLength(rest) > 125) throw new Error('cmd:ping: payload longer than 125 bytes');
      if (pings.has(rest)) throw new Error('cmd:ping: a ping with that payload awaits its pong');
      pings.add(rest);
      ws.ping(rest);
      return;
    case 'send': {
      const [n] = ints(1);
      if (n > MAX_GENERATED) throw new Error('cmd:send: too big');
      ws.send(pattern(n), { binary: true });
      return;
    }
    case 'frag': {
      const [k, size] = ints(2);
      if (k < 1 || k * size > MAX_GENERATED) throw new Error('cmd:frag: bad K or SIZE');
      // Byte j of the whole message is 'a' + j % 26: the cycle runs on
      // across frames.  {fin: false} makes ws send a frame that does not
      // end the message; the next send is its continuation.
      for (let f = 0; f < k; f++) {
        const b = Buffer.allocUnsafe(size);
        for (let i = 0; i < size; i++) b[i] = 97 + ((f * size + i) % 26);
        ws.send(b, { binary: false, fin: f === k - 1 });
      }
      return;
    }
    case 'headers': {
      // Repeated headers are joined with ", ", in the order received.
      const h = {};
      for (const [k, v] of Object.entries(req.headersDistinct)) h[k] = v.join(', ');
      h._protocol = ws.protocol || null;
      h._path = req.url;
      ws.send(JSON.stringify(h));
      return;
    }
    case 'info':
      // What was agreed, and the bytes the connection has carried so far
      // (the opening handshake included), as TCP counts them.
      ws.send(
        JSON.stringify({
          offer: req.headers['sec-websocket-extensions'] ?? null,
          extensions: req.answeredExtensions ?? null,
          bytesRead: ws._socket.bytesRead,
          bytesWritten: ws._socket.bytesWritten,
        })
      );
      return;
    default:
      throw new Error(`unknown command cmd:${name}`);
  }
}

// The codes a close frame may carry (RFC 6455 7.4): the same set that
// ws and websockets accept.
function validCloseCode(c) {
  return (c >= 1000 && c <= 1014 && ![1004, 1005, 1006].includes(c)) || (c >= 3000 && c <= 4999);
}

// ---------------------------------------------------------------- client

// A step ran out of time: the connection is out of step from then on.
class Timeout extends Error {}

// A fixed script against an echo server; see README for the steps.
async function runClient(args) {
  if (args.length < 1 || args[0].startsWith('--')) usage('client needs a URL');
  const url = args[0];
  const o = parseOptions(args.slice(1), {
    '--protocol': str,
    '--big': nonNegInt,
    '--deflate': deflateOptions,
  });
  const big = o.big ?? 16 * MIB;

  let passed = 0;
  let failed = 0;
  let broken = null; // why the connection can no longer be trusted
  let ws = null;
  const inbox = []; // messages not yet taken: {data, isBinary}
  let waiter = null; // the one pending next(): {resolve, reject}
  let closed = null; // {code, reason} once the connection has ended
  let onClosed = null;

  // The next message, or an error after `ms` or when the connection ends.
  function next(ms) {
    if (inbox.length) return Promise.resolve(inbox.shift());
    if (closed) return Promise.reject(new Error(`connection closed (${closed.code})`));
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        waiter = null;
        reject(new Timeout(`no message within ${ms / 1000} s`));
      }, ms);
      waiter = {
        resolve: (m) => { clearTimeout(t); waiter = null; resolve(m); },
        reject: (e) => { clearTimeout(t); waiter = null; reject(e); },
      };
    });
  }
  // p, or `err` after ms.
  function withTimeout(p, ms, err) {
    let t;
    return Promise.race([p, new Promise((_, reject) => { t = setTimeout(() => reject(err), ms); })])
      .finally(() => clearTimeout(t));
  }

  function describe(m) {
    return `${m.isBinary ? 'binary' : 'text'} of ${m.data.length} bytes`;
  }
  // Checks that `m` is `want` (a Buffer) of the given type, byte for byte.
  function expect(m, want, isBinary) {
    const wantDesc = `${isBinary ? 'binary' : 'text'} of ${want.length} bytes`;
    if (m.isBinary !== isBinary || m.data.length !== want.length)
      throw new Error(`got ${describe(m)}, want ${wantDesc}`);
    if (m.data.equals(want)) return;
    const i = m.data.findIndex((b, j) => b !== want[j]);
    if (i >= 0) throw new Error(`${wantDesc}: byte ${i} is ${m.data[i]}, want ${want[i]}`);
  }
  async function echo(data, isBinary, ms = 10000) {
    const want = Buffer.isBuffer(data) ? data : Buffer.from(data, 'utf8');
    ws.send(want, { binary: isBinary });
    expect(await next(ms), want, isBinary);
  }

  // Runs one step; a timeout or a lost connection makes the rest "not run",
  // since late echoes would be taken for the next step's.
  async function step(name, fn) {
    if (broken) {
      failed++;
      say(`FAIL ${name}: not run (${broken})`);
      return;
    }
    try {
      await fn();
      passed++;
      say(`ok ${name}`);
    } catch (err) {
      failed++;
      say(`FAIL ${name}: ${err.message}`);
      if (closed || err instanceof Timeout) broken = `after ${name}: ${err.message}`;
    }
  }

  await step('connect', async () => {
    ws = new WebSocket(url, o.protocol ? [o.protocol] : [], {
      perMessageDeflate: o.deflate ?? false,
      maxPayload: Math.max(big, MAX_MESSAGE),
      handshakeTimeout: 10000,
      closeTimeout: CLIENT_CLOSE_TIMEOUT_MS,
    });
    // The server's Sec-WebSocket-Extensions (ws.extensions has only the
    // names).
    let answered = null;
    ws.once('upgrade', (res) => {
      answered = res.headers['sec-websocket-extensions'] ?? null;
    });
    ws.on('message', (data, isBinary) => {
      const m = { data, isBinary };
      if (waiter) waiter.resolve(m);
      else inbox.push(m);
    });
    ws.on('close', (code, reason) => {
      closed = { code, reason: reason.toString('utf8') };
      if (waiter) waiter.reject(new Error(`connection closed (${code})`));
      if (onClosed) onClosed();
    });
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    ws.on('error', (err) => process.stderr.write(`ws_peer: ${err.message}\n`));
    if (o.protocol && ws.protocol !== o.protocol) {
      const got = ws.protocol ? `subprotocol '${ws.protocol}'` : 'no subprotocol';
      throw new Error(`server selected ${got}, asked '${o.protocol}'`);
    }
    if (o.deflate) {
      say(`EXTENSIONS ${answered}`);
      if (ws.extensions !== 'permessage-deflate')
        throw new Error(`no permessage-deflate agreed: '${ws.extensions}'`);
    }
  });
  if (!ws || ws.readyState !== WebSocket.OPEN) broken = broken || 'no connection';

  await step('text-hello', () => echo('hello', false));
  await step('text-empty', () => echo('', false));
  await step('binary-empty', () => echo(Buffer.alloc(0), true));
  for (const n of [125, 126, 65535, 65536]) await step(`binary-${n}`, () => echo(pattern(n), true));
  await step('binary-big', () => echo(pattern(big), true, 30000));
  await step('text-utf8', () => echo('héllo wörld ✓ 😀', false));
  await step('text-fragmented', async () => {
    // Three frames: {fin: false} for the first two.
    const parts = ['frag-one ', 'frag-two ', 'frag-three'];
    parts.forEach((p, i) => ws.send(p, { binary: false, fin: i === parts.length - 1 }));
    expect(await next(10000), Buffer.from(parts.join(''), 'utf8'), false);
  });
  await step('ping', () =>
    withTimeout(
      new Promise((resolve) => {
        const onPong = (data) => {
          if (data.toString('utf8') !== 'p1') return; // an unsolicited pong is allowed
          ws.off('pong', onPong);
          resolve();
        };
        ws.on('pong', onPong);
        ws.ping('p1');
      }),
      5000,
      new Error("no pong 'p1' within 5 s") // the connection is still in step
    )
  );
  await step('burst-100', async () => {
    // Even i: text "burst <i>"; odd i: binary of i bytes of the pattern.
    const msgs = [];
    for (let i = 0; i < 100; i++) {
      if (i % 2) msgs.push({ data: pattern(i), isBinary: true });
      else msgs.push({ data: Buffer.from(`burst ${i}`), isBinary: false });
    }
    for (const m of msgs) ws.send(m.data, { binary: m.isBinary }); // all before any echo is read
    const deadline = Date.now() + 10000;
    for (let i = 0; i < msgs.length; i++) {
      const m = await next(Math.max(1, deadline - Date.now()));
      try {
        expect(m, msgs[i].data, msgs[i].isBinary);
      } catch (err) {
        throw new Error(`message ${i}: ${err.message}`);
      }
    }
  });
  if (o.deflate) {
    // The echo of a message, and the bytes that it and its echo took on
    // the wire: "WIRE <step> payload=N out=X in=Y".
    async function wire(name, data, isBinary) {
      await step(name, async () => {
        const out0 = ws._socket.bytesWritten;
        const in0 = ws._socket.bytesRead;
        await echo(data, isBinary, 30000);
        const n = Buffer.isBuffer(data) ? data.length : Buffer.byteLength(data);
        say(`WIRE ${name} payload=${n} out=${ws._socket.bytesWritten - out0} ` +
          `in=${ws._socket.bytesRead - in0}`);
      });
    }
    await wire('deflate-text-small', 'small', false);
    await wire('deflate-text-100k', prose(100 * 1024), false);
    await wire('deflate-text-1m', jsonText(1024 * 1024), false);
    await wire('deflate-binary-1m', records(1024 * 1024), true);
    await wire('deflate-binary-random', crypto.randomBytes(256 * 1024), true);
    await step('deflate-many', async () => {
      // 50 alike messages back to back: each compresses against the
      // ones before it where context takeover is on.
      const msgs = [];
      for (let i = 0; i < 50; i++) msgs.push(Buffer.from(`{"seq":${i},"name":"message ${i}","ok":true}`));
      for (const m of msgs) ws.send(m, { binary: false });
      for (let i = 0; i < msgs.length; i++) expect(await next(10000), msgs[i], false);
    });
  }
  await step('close', async () => {
    const done = closed
      ? Promise.resolve()
      : new Promise((resolve) => { onClosed = resolve; });
    ws.close(4001, 'bye');
    await withTimeout(done, 10000, new Timeout('connection not closed within 10 s'));
    say(closed.reason ? `closed ${closed.code} ${closed.reason}` : `closed ${closed.code}`);
    if (closed.code !== 4001) throw new Error(`server's close code ${closed.code}, want 4001`);
  });

  if (ws) ws.terminate();
  say(`DONE ${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
}

// n bytes of English-like text (varied, so it compresses, but not to
// nothing).
function prose(n) {
  const words = ['the', 'quick', 'brown', 'fox', 'jumps', 'over', 'lazy', 'dog',
    'WebSocket', 'deflate', 'window', 'context', 'message', 'frame', 'compress'];
  const parts = [];
  let len = 0;
  for (let i = 0; len < n; i++) {
    const w = words[(i * 7 + (i >> 3)) % words.length] + (i % 11 === 10 ? '.\n' : ' ');
    parts.push(w);
    len += w.length;
  }
  return parts.join('').slice(0, n);
}

// n bytes of binary that repeats every 100 bytes: compressible with any
// window (pattern()'s period of 256 is beyond a 512-byte window's reach).
function records(n) {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = ((i % 100) * 37 + (i % 100 > 50 ? 128 : 0)) & 0xff;
  return b;
}

// n bytes of JSON-like text.
function jsonText(n) {
  const parts = ['['];
  let len = 1;
  for (let i = 0; len < n; i++) {
    const r = `{"id":${i},"user":"user${i % 97}","score":${(i * 37) % 1000},"tags":["a","b"]},`;
    parts.push(r);
    len += r.length;
  }
  return parts.join('').slice(0, n);
}

// ---------------------------------------------------------------- main

const [mode, ...rest] = process.argv.slice(2);
if (mode === 'server') runServer(rest);
else if (mode === 'client') {
  // Each step has its own limit; this only guards against a bug here.
  setTimeout(() => {
    say('FAIL client: overall time limit (240 s)');
    process.exit(1);
  }, 240000).unref();
  runClient(rest).catch((err) => {
    say(`FAIL client: ${err.stack}`);
    process.exit(1);
  });
} else usage();
