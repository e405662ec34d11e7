// Two demo instances behind one public URL, sharing Redis and a SQLite file.
// A login begun on one instance completes on the other; replays are refused
// on both; a link mailed by one is confirmed on the other; then a load of
// concurrent logins across both, none lost and none completed twice.
//
//   A=http://127.0.0.1:3000 B=http://127.0.0.1:3001 LOGINS=2000 node drive.mjs
const A = process.env.A ?? 'http://127.0.0.1:3000';
const B = process.env.B ?? 'http://127.0.0.1:3001';
const LOGINS = Number(process.env.LOGINS ?? 2000);
const CONCURRENCY = Number(process.env.CONCURRENCY ?? LOGINS);

let passed = 0;
let failed = 0;
function check(name, ok, detail = '') {
  if (ok) { passed++; console.log(`ok   ${name}`); } else { failed++; console.log(`FAIL ${name} ${detail}`); }
}

class Jar {
  constructor() { this.c = new Map(); }
  header() { return [...this.c].map(([k, v]) => `${k}=${v}`).join('; '); }
  take(res) {
    for (const sc of res.headers.getSetCookie?.() ?? []) {
      const [kv, ...attrs] = sc.split(';');
      const i = kv.indexOf('=');
      const name = kv.slice(0, i).trim(), value = kv.slice(i + 1).trim();
      if (attrs.some((a) => /max-age=0/i.test(a.trim())) || value === '') this.c.delete(name); else this.c.set(name, value);
    }
  }
}

async function req(jar, method, url, body) {
  const headers = { cookie: jar.header() };
  let payload;
  if (body) { headers['content-type'] = 'application/x-www-form-urlencoded'; payload = new URLSearchParams(body).toString(); }
  const res = await fetch(url, { method, headers, body: payload, redirect: 'manual' });
  jar.take(res);
  return res;
}

const onInstance = (url, base) => { const u = new URL(url); const b = new URL(base); u.protocol = b.protocol; u.host = b.host; return u.toString(); };

// Begin on `first`, sign in at the IdP (auto), return the callback URL and the jar.
async function toCallback(first, email) {
  const jar = new Jar();
  const r1 = await req(jar, 'POST', `${first}/login`, { email });
  if (r1.status !== 303) throw new Error(`login ${r1.status}`);
  const r2 = await req(jar, 'GET', r1.headers.get('location'));
  if (r2.status !== 302 && r2.status !== 303) throw new Error(`authorize ${r2.status}`);
  return { jar, callback: r2.headers.get('location') };
}

async function scenarios() {
  // 1. Begun on A, completed on B.
  const { jar, callback } = await toCallback(A, 'cross@acme.test');
  const done = await req(jar, 'GET', onInstance(callback, B));
  check('login begun on A completes on B', done.status === 303, `status ${done.status}`);
  const meB = await req(jar, 'GET', `${B}/me`);
  const meA = await req(jar, 'GET', `${A}/me`);
  check('the session is valid on both instances', meB.status === 200 && meA.status === 200, `${meB.status}/${meA.status}`);
  // 2. Replays refused everywhere.
  for (const [name, base] of [['A', A], ['B', B]]) {
    const r = await req(new Jar(), 'GET', onInstance(callback, base));
    const r2 = await req(jar, 'GET', onInstance(callback, base));
    check(`replayed callback refused on ${name}`, r.status >= 400 && r.status < 500 && r2.status >= 400 && r2.status < 500, `${r.status}/${r2.status}`);
  }
  // 3. Link: offered by B, mailed by A, confirmed on B.
  const l = await toCallback(A, 'ann@acme.test');
  const offer = await req(l.jar, 'GET', onInstance(l.callback, B));
  const html = await offer.text();
  const fields = Object.fromEntries([...html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)"/g)].map((m) => [m[1], m[2]]));
  check('link offered', offer.status === 200 && 'offer' in fields, `status ${offer.status}`);
  const chosen = await req(l.jar, 'POST', `${A}/link/choose`, { ...fields, choice: 'link' });
  check('link mailed by A', chosen.status === 200, `status ${chosen.status}`);
  const outbox = await (await fetch(`${A}/dev/outbox`)).json();
  const mail = outbox[outbox.length - 1];
  const confirmed = await req(l.jar, 'GET', onInstance(mail.link, B));
  check('link confirmed on B', confirmed.status === 303, `status ${confirmed.status}`);
  const me = await (await req(l.jar, 'GET', `${B}/me`)).json();
  check('the existing account is signed in', me.email === 'ann@acme.test' && me.role === 'admin', JSON.stringify(me));
  const again = await req(l.jar, 'GET', onInstance(mail.link, A));
  check('the link is single use across instances', again.status === 400, `status ${again.status}`);
}

async function load() {
  const latencies = [];
  let ok = 0, lost = 0, twice = 0;
  const errors = new Map();
  const one = async (i) => {
    const [first, second] = i % 2 ? [A, B] : [B, A];
    const t0 = performance.now();
    try {
      const { jar, callback } = await toCallback(first, `load${i}@acme.test`);
      const r = await req(jar, 'GET', onInstance(callback, second));
      if (r.status === 303) {
        ok++;
        latencies.push(performance.now() - t0);
      } else {
        lost++;
        const text = (await r.text()).match(/<p>([^<]*)<\/p>/)?.[1] ?? '';
        const key = `${r.status} ${text.replace(/ \(trace id [^)]*\)/, '')}`;
        errors.set(key, (errors.get(key) ?? 0) + 1);
      }
      // Whatever happened first, the same callback must never complete again.
      const replay = await req(jar, 'GET', onInstance(callback, first));
      if (replay.status === 303 && r.status === 303) twice++;
      if (replay.status === 303 && r.status !== 303) errors.set('completed on replay after a failure', (errors.get('completed on replay after a failure') ?? 0) + 1);
    } catch (e) {
      lost++; errors.set(String(e.message), (errors.get(String(e.message)) ?? 0) + 1);
    }
  };
  const start = performance.now();
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, LOGINS) }, async () => {
    while (next < LOGINS) { const i = next++; await one(i); }
  }));
  const secs = (performance.now() - start) / 1000;
  latencies.sort((a, b) => a - b);
  const pct = (p) => latencies.length ? latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))].toFixed(1) : 'n/a';
  console.log(`load: ${LOGINS} logins, concurrency ${CONCURRENCY}, across 2 instances: ${ok} completed, ${lost} lost, ${twice} completed twice`);
  console.log(`load: ${(ok / secs).toFixed(0)} logins/s, latency p50 ${pct(0.5)} ms, p99 ${pct(0.99)} ms, wall ${secs.toFixed(1)} s`);
  if (errors.size) console.log('load: errors', Object.fromEntries(errors));
  check(`${LOGINS} concurrent logins, none lost`, ok === LOGINS && lost === 0, `${lost} lost`);
  check('none completed twice', twice === 0, `${twice} twice`);
}

try {
  await scenarios();
  await load();
} catch (e) {
  failed++;
  console.log(`FAIL driver error: ${e.stack}`);
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
