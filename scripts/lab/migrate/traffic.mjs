// Real traffic for the migrate-* labs, so the node's conntrack table holds the flows a busy node holds.
//   traffic.mjs serve tcp:PORT|udp:PORT ...      listen on 0.0.0.0, keep TCP connections open, echo UDP
//   traffic.mjs hold tcp:IP:PORT|udp:IP:PORT ... connect and keep each flow until killed; UDP: one socket asks
//                                                  again 2.5 s after an answer, so conntrack sees a stream (ASSURED,
//                                                  120 s) and the entry outlives the next captures without more
//                                                  packets; prints one line per flow and then `ready`, or exits 1
//                                                  after 20 s if a flow got no answer
import net from 'node:net';
import dgram from 'node:dgram';

const [mode, ...specs] = process.argv.slice(2);
const parse = (s) => {
  const m = /^(tcp|udp):(?:([\d.]+):)?(\d+)$/.exec(s);
  if (!m) throw new Error(`bad flow ${s}`);
  return { proto: m[1], ip: m[2], port: Number(m[3]) };
};

if (mode === 'serve') {
  for (const s of specs.map(parse)) {
    if (s.proto === 'tcp')
      net.createServer((c) => c.on('data', (d) => c.write(d)).on('error', () => {})).listen(s.port, '0.0.0.0');
    else {
      const u = dgram.createSocket('udp4');
      u.on('message', (msg, r) => u.send(msg, r.port, r.address));
      u.bind(s.port, '0.0.0.0');
    }
  }
} else if (mode === 'hold') {
  let pending = specs.length;
  const done = (line) => {
    console.log(line);
    if (--pending === 0) {
      // the flows are held from here on: the deadline was for their answers only (left running, it ended the
      // process 20 s after the start and closed every flow the later captures expect open)
      clearTimeout(timer);
      console.log('ready');
    }
  };
  const timer = setTimeout(() => {
    console.log(`fail: ${pending} flow(s) got no answer`);
    process.exit(1);
  }, 20000);
  timer.unref();
  for (const s of specs.map(parse)) {
    if (s.proto === 'tcp') {
      const c = net.connect(s.port, s.ip, () => c.write('hello\n'));
      c.once('data', () => done(`tcp ${c.localAddress}:${c.localPort} -> ${s.ip}:${s.port} established`));
      c.on('error', (e) => console.log(`tcp ${s.ip}:${s.port}: ${e.message}`));
    } else {
      const u = dgram.createSocket('udp4');
      let answers = 0;
      const send = () => u.send('query', s.port, s.ip);
      u.on('message', () => {
        if (++answers === 1) setTimeout(send, 2500);
        else if (answers === 2) done(`udp ${u.address().port} -> ${s.ip}:${s.port} answered twice`);
      });
      u.bind(0, send);
      // lost datagrams are asked again until the first answer
      const retry = setInterval(() => (answers === 0 ? send() : clearInterval(retry)), 1000);
    }
  }
  setInterval(() => {}, 1 << 30);
} else {
  console.error('usage: traffic.mjs serve tcp:PORT|udp:PORT ... | hold tcp:IP:PORT|udp:IP:PORT ...');
  process.exit(2);
}
